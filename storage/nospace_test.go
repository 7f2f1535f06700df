package storage

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestNoSpaceMapping(t *testing.T) {
	s3 := &S3{bucket: "b"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"ENOSPC", &fs.PathError{Op: "write", Path: "/srv/store/models/m/1/.tmp-w", Err: syscall.ENOSPC}, true},
		{"EDQUOT", &fs.PathError{Op: "write", Path: "/srv/x", Err: syscall.EDQUOT}, true},
		{"EACCES", &fs.PathError{Op: "open", Path: "/srv/x", Err: syscall.EACCES}, false},
		{"S3 storage full", s3.mapErr("put", "k", minio.ErrorResponse{Code: "XMinioStorageFull", StatusCode: 507}), true},
		{"S3 507", s3.mapErr("put", "k", minio.ErrorResponse{Code: "Whatever", StatusCode: 507}), true},
		{"S3 denied", s3.mapErr("put", "k", minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403}), false},
	} {
		if got := errors.Is(noSpace(tc.err), ErrNoSpace); got != tc.want {
			t.Errorf("%s: errors.Is(ErrNoSpace) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
