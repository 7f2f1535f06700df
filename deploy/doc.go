// Package deploy holds lcnet's container image (Dockerfile) and Kubernetes
// manifests (kubernetes/). Neither can be run in this repository's CI, so
// the package's tests check them against what they describe: the manifests
// decode strictly into the Kubernetes API types, and every flag, variable,
// port and probe path they use exists in the lcnet binary built from this
// tree.
package deploy
