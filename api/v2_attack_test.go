package api

import (
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// attackBody is 79 bytes that declare a 12.9 GB tensor and carry one value.
const attackBody = `{"inputs":[{"name":"x","shape":[64,3,4096,4096],"datatype":"FP32","data":[0]}]}`

// TestV2InferAllocatesWhatArrived sends the declared-huge tensor to a
// model that exists and to one that does not: the server must answer 4xx
// having allocated about what it received, not what the shape declares.
func TestV2InferAllocatesWhatArrived(t *testing.T) {
	if len(attackBody) != 79 {
		t.Fatalf("attack body is %d bytes", len(attackBody))
	}
	f := newFake("m")
	s, _ := newTestServer(t, f, nil)
	for _, path := range []string{"/v2/models/any/infer", "/v2/models/m/infer", "/v2/models/m/versions/1/infer"} {
		t.Run(path, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", path, strings.NewReader(attackBody))
			req.Header.Set("Content-Type", "application/json")
			s.Handler().ServeHTTP(rec, req)
			runtime.ReadMemStats(&after)
			total := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: %d, allocated %d bytes in total, heap grew by %d", path, rec.Code, total, int64(after.HeapAlloc)-int64(before.HeapAlloc))
			if rec.Code/100 != 4 {
				t.Errorf("status %d, want 4xx: %s", rec.Code, rec.Body)
			}
			// A request's routing, logging and problem document take tens
			// of KiB; one MiB is far below any tensor the shape declares.
			if total > 1<<20 {
				t.Errorf("allocated %d bytes for a %d-byte body", total, len(attackBody))
			}
		})
	}
}
