package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 is a Store over a bucket of any S3-compatible server. Single objects
// are atomic in S3 already; PutIfAbsent uses a conditional write
// (If-None-Match: *), which AWS S3, MinIO and SeaweedFS honour.
type S3 struct {
	client *minio.Client
	bucket string
	// prefix is "" or ends with "/"; every key lives under it.
	prefix string
}

// S3 tunables: objects up to singlePutMax go up in one request; larger
// ones stream as a multipart upload of partSize parts, which S3 makes
// visible only when the upload completes.
const (
	singlePutMax = 16 << 20
	partSize     = 16 << 20
	// claimMax bounds what PutIfAbsent buffers: it is for small claim
	// objects, and a conditional write must be one request.
	claimMax = 64 << 20
)

// NewS3 opens s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION]. The
// endpoint defaults to AWS (https://s3.amazonaws.com); an http:// endpoint
// disables TLS. Credentials come from the environment as the AWS and MinIO
// tools read them (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, MINIO_*, or
// ~/.aws/credentials), never from the URL, which ends up in logs. The
// bucket must exist: NewS3 checks, so a typo fails now and not at the
// first upload.
func NewS3(ctx context.Context, spec string) (*S3, error) {
	u, err := url.Parse(spec)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("store %q: want s3://BUCKET[/PREFIX][?endpoint=http://HOST:PORT&region=REGION]", spec)
	}
	if u.User != nil {
		return nil, fmt.Errorf("store %q: put credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not in the URL", u.Redacted())
	}
	q := u.Query()
	for k := range q {
		if k != "endpoint" && k != "region" {
			return nil, fmt.Errorf("store %q: unknown parameter %q (known: endpoint, region)", spec, k)
		}
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if err := ValidKey(prefix); err != nil {
			return nil, fmt.Errorf("store %q: prefix: %w", spec, err)
		}
		prefix += "/"
	}
	endpoint, secure, pathStyle := "s3.amazonaws.com", true, false
	if e := q.Get("endpoint"); e != "" {
		eu, err := url.Parse(e)
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" || (eu.Path != "" && eu.Path != "/") {
			return nil, fmt.Errorf("store %q: endpoint %q: want http://HOST[:PORT] or https://HOST[:PORT]", spec, e)
		}
		endpoint, secure = eu.Host, eu.Scheme == "https"
		// Self-hosted servers rarely have per-bucket DNS names.
		pathStyle = true
	}
	lookup := minio.BucketLookupAuto
	if pathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds: credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.EnvMinio{}, &credentials.FileAWSCredentials{},
		}),
		Secure:       secure,
		Region:       q.Get("region"),
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("store %q: %w", spec, err)
	}
	s := &S3{client: client, bucket: u.Host, prefix: prefix}
	ok, err := client.BucketExists(ctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("store %q: checking bucket %s at %s: %w", spec, s.bucket, endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("store %q: bucket %s does not exist at %s; create it first", spec, s.bucket, endpoint)
	}
	return s, nil
}

// Client is the underlying S3 client, for tests and tools.
func (s *S3) Client() *minio.Client { return s.client }

func (s *S3) object(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

// mapErr turns S3's answers into the Store's sentinels, keeping the
// server's message.
func (s *S3) mapErr(op, key string, err error) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch {
		case resp.Code == "NoSuchBucket":
			return fmt.Errorf("%s %s: bucket %s is gone: %w", op, key, s.bucket, err)
		case resp.Code == "NoSuchKey" || resp.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s %s: %w", op, key, ErrNotExist)
		case resp.Code == "PreconditionFailed" || resp.StatusCode == http.StatusPreconditionFailed:
			return fmt.Errorf("%s %s: %w", op, key, ErrExist)
		// MinIO says XMinioStorageFull; quota-enforcing gateways answer 507.
		case resp.Code == "XMinioStorageFull" || resp.Code == "QuotaExceeded" || resp.StatusCode == http.StatusInsufficientStorage:
			return fmt.Errorf("%s %s: %w: %w", op, key, ErrNoSpace, err)
		}
	}
	return fmt.Errorf("%s %s in s3://%s/%s: %w", op, key, s.bucket, s.prefix, err)
}

// Get implements Store with one GET whose body is the object as it was
// when the request was answered; a Put racing the read cannot tear it.
// (minio.Object would re-request ranges with If-Match and fail instead.)
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.object(key)
	if err != nil {
		return nil, err
	}
	body, _, _, err := minio.Core{Client: s.client}.GetObject(ctx, s.bucket, obj, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.mapErr("get", key, err)
	}
	return body, nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	obj, err := s.object(key)
	if err != nil {
		return Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, obj, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.mapErr("stat", key, err)
	}
	return Info{Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Put implements Store. A reader that fails mid-stream aborts the upload,
// so the old object stays.
func (s *S3) Put(ctx context.Context, key string, r io.Reader) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	head, err := io.ReadAll(io.LimitReader(ctxReader{ctx, r}, singlePutMax+1))
	if err != nil {
		return fmt.Errorf("put %s: reading the data: %w", key, err)
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: partSize}
	if len(head) <= singlePutMax {
		opts.DisableMultipart = true
		_, err = s.client.PutObject(ctx, s.bucket, obj, bytes.NewReader(head), int64(len(head)), opts)
	} else {
		rest := io.MultiReader(bytes.NewReader(head), ctxReader{ctx, r})
		_, err = s.client.PutObject(ctx, s.bucket, obj, rest, -1, opts)
	}
	if err != nil {
		return s.mapErr("put", key, err)
	}
	return nil
}

// PutIfAbsent implements Store with a conditional write: the server, not
// a check-then-write here, decides the one winner.
func (s *S3) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(ctxReader{ctx, r}, claimMax+1))
	if err != nil {
		return fmt.Errorf("put %s: reading the data: %w", key, err)
	}
	if len(data) > claimMax {
		return fmt.Errorf("put %s: PutIfAbsent on S3 takes at most %d bytes", key, claimMax)
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true}
	opts.SetMatchETagExcept("*")
	for try := 0; ; try++ {
		_, err = s.client.PutObject(ctx, s.bucket, obj, bytes.NewReader(data), int64(len(data)), opts)
		// AWS answers 409 while another conditional write of the same key
		// is in flight; the retry then sees that one's result.
		if resp := minio.ToErrorResponse(err); resp.Code == "ConditionalRequestConflict" && try < 5 {
			continue
		}
		break
	}
	if err != nil {
		return s.mapErr("put", key, err)
	}
	return nil
}

// Delete implements Store; deleting an absent key is not an error in S3.
func (s *S3) Delete(ctx context.Context, key string) error {
	obj, err := s.object(key)
	if err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, obj, minio.RemoveObjectOptions{}); err != nil {
		if errors.Is(s.mapErr("delete", key, err), ErrNotExist) {
			return nil
		}
		return s.mapErr("delete", key, err)
	}
	return nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if oi.Err != nil {
			return nil, s.mapErr("list", prefix, oi.Err)
		}
		k := strings.TrimPrefix(oi.Key, s.prefix)
		// Some servers list directory markers ("a/b/"); they are not objects.
		if k == "" || strings.HasSuffix(k, "/") {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}
