package nekoserver

import (
	"context"
	"fmt"
	"sync"

	"github.com/codrive/codrive/neko"
)

// admin is the REST-only admin session behind the REST views. It logs in on
// first use, and again after the server forgot it (forget is called on every
// Start), so views work across restarts.
type admin struct {
	url string

	mu     sync.Mutex
	client *neko.Client
}

func (a *admin) forget() {
	a.mu.Lock()
	a.client = nil
	a.mu.Unlock()
}

func (a *admin) get(ctx context.Context) (*neko.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client != nil {
		return a.client, nil
	}
	c, err := neko.NewClient(a.url, neko.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := c.Login(ctx, AdminName, AdminPassword); err != nil {
		return nil, fmt.Errorf("nekoserver: admin login: %w", err)
	}
	a.client = c
	return c, nil
}

func (a *admin) Settings(ctx context.Context) (neko.Settings, error) {
	c, err := a.get(ctx)
	if err != nil {
		return neko.Settings{}, err
	}
	return c.Settings(ctx)
}

func (a *admin) UpdateSettings(ctx context.Context, p neko.SettingsPatch) error {
	c, err := a.get(ctx)
	if err != nil {
		return err
	}
	return c.UpdateSettings(ctx, p)
}

func (a *admin) Control(ctx context.Context) (neko.ControlStatus, error) {
	c, err := a.get(ctx)
	if err != nil {
		return neko.ControlStatus{}, err
	}
	return c.ControlStatus(ctx)
}

func (a *admin) Sessions(ctx context.Context) ([]neko.SessionData, error) {
	c, err := a.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.Sessions(ctx)
}
