package web

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIndex(t *testing.T) {
	for _, tt := range []struct {
		page         Page
		want, absent []string
	}{
		{Page{Empty: true}, []string{`<section id="hint">`, "lcnet convert", "lcnet pull", "POST /v1/models", `<section id="app" hidden>`}, []string{"Authorization"}},
		{Page{Empty: true, APIKeyRequired: true}, []string{"Authorization: Bearer", `<section id="teach" hidden>`}, nil},
		{Page{}, []string{`<section id="hint" hidden>`, `<section id="app">`, `id="model"`, `id="file"`, `id="results"`, `id="latency"`,
			`<section id="teach">`, `id="teach-base"`, `id="teach-data"`, `id="teach-name"`, `id="teach-epochs"`}, []string{`id="teach-key"`}},
		{Page{APIKeyRequired: true}, []string{`id="teach-key"`}, nil},
	} {
		var b strings.Builder
		if err := Index(&b, tt.page); err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%+v: page lacks %q", tt.page, w)
			}
		}
		for _, w := range tt.absent {
			if strings.Contains(b.String(), w) {
				t.Errorf("%+v: page has %q", tt.page, w)
			}
		}
	}
}

func TestStatic(t *testing.T) {
	for _, path := range []string{"/app.js", "/style.css"} {
		rec := httptest.NewRecorder()
		Static().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || rec.Body.Len() == 0 {
			t.Errorf("%s: %d", path, rec.Code)
		}
	}
}
