package client_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/lcnet/lcnet/api/client"
)

// Classify an image with a running "lcnet serve".
func ExampleClient_Classify() {
	c, err := client.New("http://127.0.0.1:8080", nil)
	if err != nil {
		log.Fatal(err)
	}
	img, err := os.ReadFile("cat.jpg")
	if err != nil {
		log.Fatal(err)
	}
	// An empty model name uses POST /classify and the server's default.
	res, err := c.Classify(context.Background(), "PPLCNet_x1_0", "", [][]byte{img}, 5)
	if err != nil {
		log.Fatal(err) // an *client.ProblemError for 4xx/5xx answers
	}
	for _, p := range res.Results[0].Predictions {
		fmt.Printf("%-30s %.4f\n", p.Label, p.Score)
	}
}
