package convert

import "testing"

func TestPostThreshold(t *testing.T) {
	for _, tc := range []struct {
		name, yml string
		want      float64
	}{
		{"PaddleClas multi-label", "PostProcess:\n  name: MultiLabelThreshOutput\n  MultiLabelThreshOutput:\n    threshold: 0.5\n    delimiter: ' '\n", 0.5},
		{"PULC person attribute", "PostProcess:\n  PersonAttribute:\n    threshold: 0.4\n    glasses_threshold: 0.3\n    hold_threshold: 0.6\n", 0.4},
		{"vehicle attribute has no single threshold", "PostProcess:\n  VehicleAttribute:\n    color_threshold: 0.5\n    type_threshold: 0.5\n", 0},
		{"Topk", "PostProcess:\n  Topk:\n    topk: 1\n    label_list: [a, b]\n", 0},
		{"out of range", "PostProcess:\n  MultiLabelThreshOutput:\n    threshold: 7\n", 0},
		{"not yaml", "PostProcess: [", 0},
	} {
		if got := postThreshold([]byte(tc.yml)); got != tc.want {
			t.Errorf("%s: threshold %g, want %g", tc.name, got, tc.want)
		}
	}
}
