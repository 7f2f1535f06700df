// Package api is lcnet's HTTP API: a chi router serving image
// classification and feature extraction with PP-LCNet models from the zoo,
// the KServe/Triton v2 inference protocol, model management, fine-tuning
// jobs, health and Prometheus metrics, the OpenAPI document with Swagger
// UI, and the demo page.
//
// Requests from many clients are batched per model (bounded batch size and
// wait); a bounded queue answers 429 with Retry-After when full; models
// load lazily on first use and stay cached until deleted. Errors are
// RFC 9457 application/problem+json.
//
// The request and response bodies, and a Go client, are in package
// api/client, which a program that only calls a server imports alone.
//
//	@title						lcnet
//	@version					1.0
//	@description				Image classification and features with PaddlePaddle's PP-LCNet models, from one static Go binary. Errors are application/problem+json (RFC 9457).
//	@license.name				Apache-2.0
//	@license.url				https://www.apache.org/licenses/LICENSE-2.0
//	@BasePath					/
//	@securityDefinitions.apikey	BearerAuth
//	@in							header
//	@name						Authorization
//	@description				"Bearer KEY" (lcnet serve --api-key); needed to upload and delete models, and to start and cancel fine-tuning jobs, when the server has a key.
package api
