package convert

import "gopkg.in/yaml.v3"

// postThreshold reads the multi-label threshold of an inference.yml's
// PostProcess: the "threshold" of whichever op carries one, e.g.
// MultiLabelThreshOutput (PaddleClas' use_multilabel exports) or
// PersonAttribute (PULC). Per-attribute thresholds such as
// VehicleAttribute's color_threshold have no single value and are not
// read; 0 means none, and the server then uses zoo.DefaultThreshold.
func postThreshold(data []byte) float64 {
	var y struct {
		PostProcess map[string]yaml.Node `yaml:"PostProcess"`
	}
	if yaml.Unmarshal(data, &y) != nil {
		return 0
	}
	for _, node := range y.PostProcess {
		var op struct {
			Threshold *float64 `yaml:"threshold"`
		}
		if node.Decode(&op) == nil && op.Threshold != nil && *op.Threshold > 0 && *op.Threshold < 1 {
			return *op.Threshold
		}
	}
	return 0
}
