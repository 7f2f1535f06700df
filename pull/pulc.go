package pull

import (
	_ "embed"
	"strings"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/convert"
)

// The PULC models (PaddleClas docs/zh_CN/models/PULC/model_list.md) are all
// PPLCNet_x1_0. Their tars hold a Paddle 2 program and weights only; the
// labels and pipelines below are those of PaddleClas'
// deploy/configs/PULC/<name>/inference_<name>.yaml, with the label lists of
// ppcls/utils/PULC_label_list, the label_0/label_1 of ThreshOutput and the
// attribute order of deploy/python/postprocess.py (PersonAttribute,
// VehicleAttribute), which ppcls/utils/*_attribute_label_list.txt repeat.

// traffic_sign_label_list.txt of PaddleClas, 232 classes of the
// Tsinghua-Tencent 100K signs.
//
//go:embed labels/traffic_sign.txt
var trafficSignList string

var (
	pedestrianAttributes = []string{
		"Hat", "Glasses", "ShortSleeve", "LongSleeve", "UpperStride", "UpperLogo", "UpperPlaid", "UpperSplice",
		"LowerStripe", "LowerPattern", "LongCoat", "Trousers", "Shorts", "Skirt&Dress", "Boots",
		"HandBag", "ShoulderBag", "Backpack", "HoldObjectsInFront", "AgeLess18", "Age18-60", "AgeOver60",
		"Female", "Front", "Side", "Back",
	}
	vehicleAttributes = []string{
		"yellow", "orange", "green", "gray", "red", "blue", "white", "golden", "brown", "black",
		"sedan", "suv", "van", "hatchback", "mpv", "pickup", "bus", "truck", "estate",
	}
)

// pulcScale is the 0.00392157 the PULC deploy configs write for 1/255;
// the attribute configs write 1.0/255.0.
const pulcScale = 0.00392157

// pulcCrop is resize_short 256, center crop 224; pulcResize straight to
// w x h. Both normalize with ImageNet's mean and std.
func pulcCrop() *arch.Preprocess {
	p := arch.DefaultPreprocess()
	p.Scale = pulcScale
	return &p
}

func pulcResize(w, h int, scale float64) *arch.Preprocess {
	p := arch.DefaultPreprocess()
	p.ResizeShort, p.CropWidth, p.CropHeight = 0, 0, 0
	p.ResizeWidth, p.ResizeHeight = w, h
	p.Scale = scale
	return &p
}

func pulcEntries() []Entry {
	traffic, err := convert.ReadLabels(strings.NewReader(trafficSignList))
	if err != nil {
		// The file is part of the binary; TestCatalog reads it too.
		panic("pull: labels/traffic_sign.txt: " + err.Error())
	}
	var es []Entry
	for _, x := range []struct {
		name, desc string
		labels     []string
		pre        *arch.Preprocess
		multi      bool
	}{
		{"person_exists", "is there a person (surveillance scenes)", []string{"nobody", "someone"}, pulcCrop(), false},
		{"car_exists", "is there a car (surveillance scenes)", []string{"no_car", "contains_car"}, pulcCrop(), false},
		{"safety_helmet", "is the person wearing a safety helmet", []string{"wearing_helmet", "unwearing_helmet"}, pulcCrop(), false},
		{"traffic_sign", "traffic sign type (Tsinghua-Tencent 100K)", traffic, pulcCrop(), false},
		{"text_image_orientation", "orientation of an image with text (0, 90, 180 or 270 degrees)", []string{"0", "90", "180", "270"}, pulcCrop(), false},
		{"textline_orientation", "text-line orientation (0 or 180 degrees), 80x160 input", []string{"0_degree", "180_degree"}, pulcResize(160, 80, pulcScale), false},
		{"language_classification", "script of a text line (10 languages), 80x160 input",
			[]string{"arabic", "chinese_cht", "cyrillic", "devanagari", "japan", "ka", "korean", "ta", "te", "latin"}, pulcResize(160, 80, pulcScale), false},
		{"person_attribute", "pedestrian attributes (PA-100K), multi-label", pedestrianAttributes, pulcResize(192, 256, 1.0/255), true},
		{"vehicle_attribute", "vehicle color and type (VeRi), multi-label", vehicleAttributes, pulcResize(256, 192, 1.0/255), true},
	} {
		h, w := x.pre.OutputSize()
		es = append(es, Entry{
			Name:        "PULC_" + x.name,
			Kind:        PULCTar,
			URL:         pulcBase + x.name + "_infer.tar",
			Description: "PULC " + x.desc,
			Classes:     len(x.labels),
			InputHeight: h,
			InputWidth:  w,
			MultiLabel:  x.multi,
			Labels:      x.labels,
			Preprocess:  x.pre,
		})
	}
	return es
}
