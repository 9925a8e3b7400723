package cdpproxy

import "sync"

// A gesture is what automation holds pressed through one connection and
// session: mouse buttons, keys, touch points, from the Input.dispatch*
// command that presses to the one that releases. A person must not get
// control in the middle of one: their clicks would land inside the
// script's drag, or between its press and its release. So the press's step
// lasts until the gesture ends (an arbiter waits for it before handing
// control over, bounded by its own timeout), and the input commands that
// continue or end it pass the gate while control is being handed over
// (StepContinue).
//
// Presses and releases are counted, not matched key by key: a script that
// presses and never releases (or repeats a keyDown) keeps a gesture open
// until the connection ends, and the arbiter's timeout bounds the wait.

// StepKind says what an acting command does to the input devices; the
// Controller decides with it when control may be handed over.
type StepKind int

const (
	// StepCommand is an ordinary acting command.
	StepCommand StepKind = iota
	// StepPress starts a gesture; its Step's Done comes when the gesture
	// ends, not when Chromium answers the press.
	StepPress
	// StepContinue is an input command while a gesture is open (a move
	// while dragging, the release): it may pass while control is being
	// handed over, not after.
	StepContinue
)

// inputRole is +1 for a command that presses, -1 for one that releases, 0
// otherwise.
func inputRole(method, typ string) int {
	switch method {
	case "Input.dispatchMouseEvent":
		switch typ {
		case "mousePressed":
			return 1
		case "mouseReleased":
			return -1
		}
	case "Input.dispatchKeyEvent":
		switch typ {
		case "keyDown", "rawKeyDown":
			return 1
		case "keyUp":
			return -1
		}
	case "Input.dispatchTouchEvent":
		switch typ {
		case "touchStart":
			return 1
		case "touchEnd", "touchCancel":
			return -1
		}
	}
	return 0
}

func isInput(method string) bool {
	return len(method) > 6 && method[:6] == "Input."
}

// gestures are one connection's open gestures, by session.
type gestures struct {
	mu   sync.Mutex
	open map[string]*gesture
}

type gesture struct {
	pressed int
	steps   []Step // the presses', ended with the gesture
}

// kind is the StepKind of an acting command that is about to ask the gate.
func (g *gestures) kind(h *header) StepKind {
	if !isInput(h.method) {
		return StepCommand
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if ge := g.open[h.session]; ge != nil && ge.pressed > 0 {
		return StepContinue
	}
	if inputRole(h.method, h.inputType) > 0 {
		return StepPress
	}
	return StepCommand
}

// passed records an input command that passed the gate with step, and
// returns the func that ends step: a press's is kept until its gesture
// ends, a release that ends it ends every press's too.
func (g *gestures) passed(h *header, step Step) func() {
	if step == nil || !isInput(h.method) {
		return stepDone(step)
	}
	role := inputRole(h.method, h.inputType)
	g.mu.Lock()
	defer g.mu.Unlock()
	ge := g.open[h.session]
	switch {
	case role > 0:
		if ge == nil {
			if g.open == nil {
				g.open = map[string]*gesture{}
			}
			ge = &gesture{}
			g.open[h.session] = ge
		}
		ge.pressed++
		ge.steps = append(ge.steps, step)
		return step.Sent // answered, but the gesture goes on
	case role < 0 && ge != nil && ge.pressed > 0:
		ge.pressed--
		if ge.pressed > 0 {
			return step.Done
		}
		presses := ge.steps
		delete(g.open, h.session)
		return func() {
			step.Done()
			for _, p := range presses {
				p.Done()
			}
		}
	}
	return step.Done
}

// end ends every open gesture: the connection is gone.
func (g *gestures) end() {
	g.mu.Lock()
	open := g.open
	g.open = nil
	g.mu.Unlock()
	for _, ge := range open {
		for _, p := range ge.steps {
			p.Done()
		}
	}
}
