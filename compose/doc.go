// Package compose holds no code: this folder is codrive's docker-compose setup
// (neko's Chromium with its DevTools port open, and codrive beside it) and an
// example CI workflow. The package's tests check those files for what codrive
// relies on, so that a change that would break it fails `go test` and not a
// container start.
package compose
