// Package scaleout tests lcnet as issue 7 deploys it: several stateless
// `lcnet serve` replicas over one zoo in an S3-compatible object store
// (a real SeaweedFS on loopback), behind one address (a real nginx).
//
// The tests need the weed binary (e2e/s3/start-weed.sh build) and nginx
// (apt-get install nginx). Without them they skip and say what is
// missing; with CI=true a missing tool fails the run instead, so CI can
// never pass by not running them.
package scaleout
