package timeline

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// shopSite is the small shop the scenario orders from: the page a person
// and a script share. It is styled like a real site so that the report's
// screenshots (and its picture in the README) look like a real run.
func shopSite(t testing.TB) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	page := func(path, title, step, body string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != path {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, shopPage, title, steps(step), body)
		})
	}
	page("/", "Northwind Coffee", "cart", `<section class="card product">
  <div class="art" aria-hidden="true"></div>
  <div><h2>House blend, whole beans</h2><p class="muted">Chocolate, red fruit, a long sweet finish. Roasted on Tuesdays.</p>
  <p class="price">€24.00 <span class="muted">/ 1 kg</span></p>
  <button id="start" class="primary">Start order</button></div></section>`)
	page("/order", "Your details · Northwind Coffee", "details", `<section class="card"><h2>Your details</h2>
  <label>Name<input id="name" autocomplete="off"></label>
  <label>Email<input id="email" autocomplete="off"></label>
  <label>Quantity<input id="qty" value="1" style="width:90px"></label>
  <label>Delivery note<textarea id="note" rows="2" placeholder="For the courier"></textarea></label>
  <label class="check"><input type="checkbox" id="gift"> Gift wrap</label>
  <button id="continue" class="primary">Continue to payment</button></section>`)
	page("/pay", "Payment · Northwind Coffee", "payment", `<section class="card"><h2>Payment</h2>
  <p>Visa ending in 4242 · <b>€48.00</b></p>
  <div class="bank" id="bank"><h3>Your bank needs to confirm this payment</h3>
  <p class="muted">Enter the code sent to your phone ending in 17.</p>
  <input id="code" placeholder="6-digit code" style="width:160px"> <button id="approve" class="primary" onclick="document.getElementById('bank').classList.add('ok');document.getElementById('state').textContent='Payment approved ✓'">Approve</button>
  <p id="state" class="state">Waiting for approval…</p></div></section>`)
	page("/done", "Thank you · Northwind Coffee", "done", `<section class="card done"><div class="tick" aria-hidden="true">✓</div>
  <h2>Order NW-1042 placed</h2><p>Thank you, <span id="who">Ada</span>. Your coffee ships tomorrow.</p></section>`)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func steps(current string) string {
	out := ""
	for _, s := range []struct{ id, label string }{{"cart", "Cart"}, {"details", "Details"}, {"payment", "Payment"}, {"done", "Done"}} {
		cls := ""
		if s.id == current {
			cls = ` class="on"`
		}
		out += "<li" + cls + ">" + s.label + "</li>"
	}
	return out
}

const shopPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>%s</title><style>
body{margin:0;font:21px/1.5 system-ui,"DejaVu Sans",sans-serif;background:#FBF7F2;color:#2B2118}
header{background:#3E2A1E;color:#FBE9D7;padding:22px 56px;display:flex;align-items:center;gap:28px}
header b{font-size:30px;letter-spacing:.02em}
ol{display:flex;gap:10px;list-style:none;margin:0 0 0 auto;padding:0}
ol li{padding:6px 18px;border-radius:999px;background:rgba(255,255,255,.12);font-size:19px}
ol li.on{background:#F2A541;color:#2B2118;font-weight:700}
main{max-width:1000px;margin:44px auto;padding:0 24px}
.card{background:#fff;border-radius:18px;padding:34px 40px;box-shadow:0 6px 24px rgba(62,42,30,.12)}
.product{display:flex;gap:28px;align-items:center}
.art{width:260px;height:260px;border-radius:14px;flex:none;background:radial-gradient(circle at 35%% 30%%,#C8864B,#6B3E1F 70%%)}
h2{margin:0 0 12px;font-size:38px}.muted{color:#7A6A5C}.price{font-size:32px;font-weight:700}
label{display:block;margin:12px 0;font-weight:600;font-size:19px}
input,textarea{display:block;margin-top:4px;width:100%%;box-sizing:border-box;font:inherit;padding:8px 10px;border:1px solid #D8CBBE;border-radius:8px}
label.check{display:flex;gap:8px;align-items:center}label.check input{width:auto;margin:0}
button.primary{background:#C8551B;color:#fff;border:0;border-radius:12px;padding:14px 28px;font:600 21px system-ui,sans-serif;margin-top:12px}
.bank{border:2px dashed #C8551B;border-radius:12px;padding:16px 20px;margin-top:14px}.bank h3{margin:0 0 4px}
.bank.ok{border:2px solid #2E8540;background:#EEF8F0}.state{font-weight:700;margin:10px 0 0}.bank.ok .state{color:#2E8540}
.done{text-align:center;padding:44px}.tick{width:120px;height:120px;border-radius:50%%;background:#2E8540;color:#fff;font-size:72px;line-height:120px;margin:0 auto 16px}
</style></head><body><header><b>☕ Northwind Coffee</b><ol>%s</ol></header><main>%s</main></body></html>`
