// Package e2e holds no code: its tests are codrive's end-to-end scenarios,
// each run on both neko servers (internal/nekoserver: nekotest and the real
// neko v3.1.5), as subtests named after the server. codrive runs as its
// built binary (the CLI's flags and outputs are its stable interface), real
// Chromium is Debian's, and people are emulated with neko clients.
//
// Run one tier alone with CODRIVE_NEKO_SERVERS=nekotest (or neko), e.g.
// make test-nekotest / make test-neko.
package e2e
