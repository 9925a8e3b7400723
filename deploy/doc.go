// Package deploy holds no code: this folder is codrive's Kubernetes setup
// (kubernetes/, a kustomize base: neko's Chromium with codrive as its native
// sidecar). Its tests build that base with kustomize's own library, decode
// every object strictly into the Kubernetes API types, and check it against
// the real codrive CLI, neko v3.1.5's configuration names and the compose
// setup; they also check the repository's Dockerfile and run its go build
// line. No cluster and no Docker engine is needed.
package deploy
