# The README's test command is `make test`; .ci/run runs exactly that.
SWAG_VERSION := v1.16.6
GOLANGCI_LINT_VERSION := v2.15.0
GOBIN := $(shell go env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

# Packages whose code runs concurrently: they are tested again under -race.
RACE_PKGS := ./api/... ./imaging/... ./nn/... ./zoo/... ./storage/... ./internal/kernel/... ./internal/par/... ./pull/... ./train/...

.PHONY: test deps vet lint build generate

## test: install the test tools, vet, then run every test (fixtures, curl,
## Chromium and ONNX Runtime included) and the concurrent packages under -race.
test: deps vet
	export LCNET_WEED="$$(e2e/s3/start-weed.sh build)" && \
	go test -count=1 -timeout 30m ./... && \
	go test -count=1 -race -short -timeout 30m $(RACE_PKGS)

## deps: the tools the tests need besides Go: swag (to check the committed
## OpenAPI document is fresh), onnxruntime-node (for the ONNX checks),
## Redocly, Dredd and Prism (for the contract checks) and SeaweedFS' weed,
## built once from the Go module proxy (for the S3 store).
deps:
	go install github.com/swaggo/swag/cmd/swag@$(SWAG_VERSION)
	cd e2e/bench && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	cd e2e/contract && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	e2e/s3/start-weed.sh build >/dev/null

vet:
	go vet ./...

## lint: golangci-lint with the linters in .golangci.yml.
lint:
	go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	golangci-lint run ./...

build:
	CGO_ENABLED=0 go build -trimpath -o lcnet ./cmd/lcnet

## generate: regenerate the OpenAPI document and the kernels' assembly.
generate:
	go generate ./...
