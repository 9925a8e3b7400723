package demo

import (
	"fmt"
	"html"
	"net/http"
)

// siteHandler is the demo's small shop: a start page, an order form, a
// review and a confirmation. Plain HTML, no network, so the demo runs
// anywhere.
func siteHandler() http.Handler {
	mux := http.NewServeMux()
	page := func(w http.ResponseWriter, title, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>%s</title>
<style>body{font:18px sans-serif;margin:3em}button{font-size:18px;margin:.3em}input{font-size:18px}</style>
</head><body><h1>%s</h1>%s</body></html>`, title, title, body)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page(w, "codrive demo shop", `<p>One browser, a script and a person, one at a time.</p>
<button id=start onclick="location='/order'">Start an order</button>`)
	})
	mux.HandleFunc("GET /order", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Your order", `<form action=/review>
<p><label>Name <input id=name name=name autofocus></label></p>
<p>Items: <input id=qty name=qty value=1 size=2 readonly>
<button type=button id=plus onclick="qty.value=+qty.value+1">+</button></p>
<button id=review>Review</button></form>`)
	})
	mux.HandleFunc("GET /review", func(w http.ResponseWriter, r *http.Request) {
		name, qty := html.EscapeString(r.FormValue("name")), html.EscapeString(r.FormValue("qty"))
		page(w, "Review", fmt.Sprintf(`<p>%s orders %s item(s).</p>
<form action=/done><input type=hidden name=name value="%s"><input type=hidden name=qty value="%s">
<button id=confirm>Confirm</button></form>`, name, qty, name, qty))
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		page(w, "Thank you", fmt.Sprintf(`<p id=result>Order confirmed: %s, %s item(s)</p>`,
			html.EscapeString(r.FormValue("name")), html.EscapeString(r.FormValue("qty"))))
	})
	return mux
}
