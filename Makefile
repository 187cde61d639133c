# pulumi-lvs: the two commands are `make demo` and `make test` (see README).
# Everything the project needs is installed here, idempotently, on a fresh machine:
# Debian packages for the VM lab, npm dependencies, and the pulumi CLI built from Go.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
export PULUMI_LVS_CACHE ?= $(HOME)/.cache/pulumi-lvs

.PHONY: sdk sdk-build bench test demo demo-down demo-ha demo-ha-down deps node-deps pulumi-cli build schema typecheck lint unit e2e lab-up lab-down

## test: type check, lint, unit tests, then the lab end-to-end suite through the real pulumi CLI
test: deps typecheck lint unit sdk-build
	@# Bring the labs up (each reused if running) and afterwards stop only those this run started.
	@started=$$(bash test/lab/labs.sh up $(E2E_LABS)); \
	status=0; $(MAKE) --no-print-directory e2e || status=$$?; \
	if [ -n "$$started" ]; then bash test/lab/labs.sh down $$started; fi; \
	exit $$status

## demo: the walkthrough on the VM lab: boot it, pulumi up the root program, six requests to the VIP
demo: deps build
	bash tools/demo.sh up

demo-down:
	bash tools/demo.sh down

## demo-ha: two directors (VRRP) and health-checked backends: failover and a backend's death and recovery, live
demo-ha: deps build
	bash tools/demo.sh ha-up

demo-ha-down:
	bash tools/demo.sh ha-down

deps: node-deps pulumi-cli
	bash test/lab/deps.sh

# npm ci when node_modules is missing or older than the lock file (prepare builds bin/ and links the package to itself).
node-deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package-lock.json package.json
	npm ci --no-audit --no-fund
	@touch $@

pulumi-cli:
	@bash tools/pulumi/install.sh >/dev/null

build: node-deps
	npm run --silent build && node tools/link-self.js

## schema: write schema.json (the provider plugin's package schema) from the zod model
schema: build
	node tools/write-schema.js

## sdk: write the Go, Python and .NET SDKs (sdk/) from schema.json, with Pulumi's code generators (tools/sdkgen)
sdk: schema
	cd tools/sdkgen && go run . -schema ../../schema.json -version "$$(node -p 'require("../../package.json").version')" -out ../../sdk
	cd sdk/go && go mod tidy

# The generated SDKs compile: the Go one against github.com/pulumi/pulumi/sdk/v3 (and examples/go with it), the Python one byte-compiled.
# (No .NET toolchain here: its SDK is generated and checked for staleness only.)
sdk-build:
	cd sdk/go && go build ./...
	cd examples/go && go build -o /dev/null .
	python3 -m compileall -q sdk/python/pulumi_lvs

typecheck: node-deps
	npx tsc --noEmit -p tsconfig.json

lint: node-deps
	npx eslint .
	npx prettier --check .
	shellcheck provider/remote/restore.sh

unit: node-deps
	npx jest --selectProjects unit

# The e2e test files run on E2E_LABS labs at once, one jest worker per lab (test/lab/labs.sh).
# One by default: on 2 cores the VMs' emulation (TCG) is CPU-bound, and two labs ran each file at half speed.
E2E_LABS ?= 1
# Afterwards it prints where the time went (tools/e2e-timings.js), passed or failed.
e2e: build pulumi-cli
	@bash test/lab/labs.sh up $(E2E_LABS) >/dev/null
	@rm -f bin/e2e-timings.jsonl
	status=0; PULUMI_LVS_E2E_TIMINGS="$(CURDIR)/bin/e2e-timings.jsonl" PATH="$$(bash tools/pulumi/install.sh):$$PATH" \
	  npx jest --selectProjects e2e --maxWorkers=$(E2E_LABS) || status=$$?; \
	node tools/e2e-timings.js bin/e2e-timings.jsonl || true; \
	exit $$status

lab-up:
	bash test/lab/lab.sh up

lab-down:
	bash test/lab/lab.sh down

## bench: pulumi-lvs vs. an empty program's up + one ssh ipvsadm -R (and @pulumi/command when its plugin is on PATH),
## through the real CLI against the lab director; BENCH_N=1000 for 1,000 backends in 10 services (not part of make test)
bench: deps build
	@# Boot the lab's director if needed (PULUMI_LVS_LAB_DIR / LAB_SSH_BASE_PORT pick another lab) and afterwards
	@# stop only what this run started: 2 = director was up, 1 = other hosts were, 0 = nothing was.
	@was_up=$$(bash test/lab/lab.sh status --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const h=JSON.parse(s).hosts;console.log(h.some(x=>x.name==="director"&&x.running)?2:h.some(x=>x.running)?1:0)}catch{console.log(0)}})'); \
	npx tsc -p bench/tsconfig.json; \
	bash test/lab/lab.sh up director; \
	status=0; PATH="$$(bash tools/pulumi/install.sh):$$PATH" node bin/bench/bench.js || status=$$?; \
	if [ "$$was_up" = 0 ]; then bash test/lab/lab.sh down; elif [ "$$was_up" = 1 ]; then bash test/lab/lab.sh stop director; fi; \
	exit $$status
