// Package compose holds no code: this folder is codrive's docker-compose setup
// (neko's Chromium with its DevTools port open, codrive's managed policy beside
// neko's, and codrive beside it), an override that publishes codrive on the
// host, and an example CI workflow. The package's tests check those files for
// what codrive relies on, against the real codrive CLI and neko v3.1.5's own
// files, so that a change that would break it fails `go test` and not a
// container start.
package compose
