package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The identity the test server is configured with.
const (
	weedAccessKey = "lcnet-test"
	weedSecretKey = "lcnet-test-secret"
	weedBucket    = "lcnet-test"
)

// StartS3 provides S3 stores for tests: it returns a function giving the
// spec of a fresh store, s3://BUCKET/PREFIX?endpoint=...&region=..., each
// under its own prefix of one bucket on one server.
//
// With LCNET_S3_ENDPOINT set (e.g. http://127.0.0.1:8333, credentials in
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, bucket "lcnet-test" existing)
// it uses that server. Otherwise it starts a SeaweedFS server on loopback,
// for the duration of t, from the weed binary in LCNET_WEED or on PATH
// (e2e/s3/start-weed.sh builds one), and skips the test when there is none
// unless LCNET_REQUIRE_S3=1, where a missing server is a failure.
func StartS3(t *testing.T) func() string {
	t.Helper()
	endpoint := os.Getenv("LCNET_S3_ENDPOINT")
	if endpoint == "" {
		endpoint = startWeed(t)
	} else {
		u, err := url.Parse(endpoint)
		if err != nil {
			t.Fatalf("LCNET_S3_ENDPOINT: %v", err)
		}
		client, err := minio.New(u.Host, &minio.Options{
			Creds: credentials.NewEnvAWS(), Secure: u.Scheme == "https", Region: "us-east-1", BucketLookup: minio.BucketLookupPath,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := makeBucket(context.Background(), client); err != nil {
			t.Fatalf("creating bucket %s at %s: %v", weedBucket, endpoint, err)
		}
	}
	return func() string {
		var rnd [6]byte
		rand.Read(rnd[:])
		return fmt.Sprintf("s3://%s/t-%s?endpoint=%s&region=us-east-1", weedBucket, hex.EncodeToString(rnd[:]), endpoint)
	}
}

func startWeed(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("LCNET_WEED")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("weed"); err != nil {
			msg := "no SeaweedFS weed binary: set LCNET_WEED=/path/to/weed or put weed on PATH (e2e/s3/start-weed.sh builds it), or point LCNET_S3_ENDPOINT at a running S3 server"
			if os.Getenv("LCNET_REQUIRE_S3") == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "s3.json")
	identity := fmt.Sprintf(`{"identities":[{"name":"lcnet","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`, weedAccessKey, weedSecretKey)
	if err := os.WriteFile(cfg, []byte(identity), 0o600); err != nil {
		t.Fatal(err)
	}
	ports := freePorts(t, 4)
	logPath := filepath.Join(dir, "weed.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "server",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir="+data,
		"-master.port="+strconv.Itoa(ports[0]), "-master.telemetry=false", "-master.volumeSizeLimitMB=64",
		"-volume.port="+strconv.Itoa(ports[1]), "-volume.max=4",
		"-filer", "-filer.port="+strconv.Itoa(ports[2]),
		"-s3", "-s3.port="+strconv.Itoa(ports[3]), "-s3.config="+cfg,
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// The process group is this test's alone: end exactly what it started.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logf.Close()
	})

	host := "127.0.0.1:" + strconv.Itoa(ports[3])
	client, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(weedAccessKey, weedSecretKey, ""),
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The S3 gateway answers only once master, volume and filer are up;
	// on a loaded machine that takes a while.
	deadline := time.Now().Add(120 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = makeBucket(ctx, client)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("weed exited: %v\nlast log lines:\n%s", cmd.ProcessState, tail(string(b), 30))
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("SeaweedFS S3 on %s not ready: %v\nlast log lines:\n%s", host, err, tail(string(b), 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", weedAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", weedSecretKey)
	return "http://" + host
}

func makeBucket(ctx context.Context, client *minio.Client) error {
	err := client.MakeBucket(ctx, weedBucket, minio.MakeBucketOptions{Region: "us-east-1"})
	if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
		return nil
	}
	return err
}

// freePorts finds n loopback ports that are free together with port+10000,
// which weed takes for each service's gRPC.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	for tries := 0; len(out) < n && tries < 1000; tries++ {
		r, _ := rand.Int(rand.Reader, big.NewInt(7000))
		p := 15000 + int(r.Int64())
		if free(p) && free(p+10000) && !contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) < n {
		t.Fatal("no free loopback ports for weed")
	}
	return out
}

func free(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
