# The two commands of the README: `make demo` and `make test`. Both install what they need.
CARGO ?= cargo
OUT ?= out

.PHONY: demo test vulkan build lint bench fixtures

vulkan:
	@bash scripts/ensure-vulkan.sh

build: vulkan
	$(CARGO) build --release --bin glimpse

## Heatmaps and predictions for the shipped models and images, written to $(OUT)/.
demo: build
	@mkdir -p $(OUT)
	./target/release/glimpse info
	./target/release/glimpse predict --model assets/models/lenet_mnist.onnx assets/images/mnist_*.png | tee $(OUT)/predict_mnist.txt
	./target/release/glimpse predict --model assets/models/resnet_fashion.onnx assets/images/fashion_*.png | tee $(OUT)/predict_fashion.txt

## Every test: unit, kernels against f64 references, fixtures against onnxruntime, CLI.
test: vulkan
	$(CARGO) test --release --all-targets

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

bench: vulkan
	$(CARGO) bench --bench forward --bench lrp

## Regenerates assets/ (needs PyTorch etc.; see scripts/README.md).
fixtures:
	python3 scripts/make_fixtures.py
