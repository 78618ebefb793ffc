# The two commands of the README: `make demo` and `make test`. Both install what they need.
CARGO ?= cargo
OUT ?= out

.PHONY: demo test vulkan build lint bench fixtures prototypes

vulkan:
	@bash scripts/ensure-vulkan.sh

build: vulkan
	$(CARGO) build --release --bin glimpse

PHOTOS = assets/images/chelsea_224.png assets/images/coffee_224.png assets/images/astronaut_224.png assets/images/rocket_224.png
# EfficientNet-Lite0's preprocessing: (pixel - 127) / 128.
LITE0_MODEL = --model assets/models/efficientnet_lite0.onnx --range=-0.9921875,1
LITE0 = $(LITE0_MODEL) --classes assets/models/imagenet_classes.txt

## Heatmaps and predictions for the shipped models and images, written to $(OUT)/.
demo: build
	@mkdir -p $(OUT)
	./target/release/glimpse info
	./target/release/glimpse predict $(LITE0) $(PHOTOS) | tee $(OUT)/predict_photos.txt
	./target/release/glimpse explain --overwrite $(LITE0) --composite epsilon-gamma-box --out $(OUT)/photos_epsilon_gamma_box $(PHOTOS)
	./target/release/glimpse explain --overwrite $(LITE0) --composite epsilon-plus-flat --out $(OUT)/photos_epsilon_plus_flat $(PHOTOS)
	./target/release/glimpse explain --overwrite $(LITE0) --method grad-cam --layer _conv_head --out $(OUT)/photos_grad_cam $(PHOTOS)
	./target/release/glimpse explain --overwrite $(LITE0) --composite epsilon-plus-flat --translate 2 --out $(OUT)/photos_epsilon_plus_flat_translate2 $(PHOTOS)
	./target/release/glimpse explain --overwrite $(LITE0) --composite epsilon-plus-flat --translate 3 --out $(OUT)/photos_epsilon_plus_flat_translate3 $(PHOTOS)
	./target/release/glimpse predict --model assets/models/lenet_mnist.onnx assets/images/mnist_*.png | tee $(OUT)/predict_mnist.txt
	./target/release/glimpse predict --model assets/models/resnet_fashion.onnx assets/images/fashion_*.png | tee $(OUT)/predict_fashion.txt
	./target/release/glimpse explain --overwrite --model assets/models/lenet_mnist.onnx --composite epsilon-plus-flat \
		--out $(OUT)/lenet_epsilon_plus_flat assets/images/mnist_*.png
	./target/release/glimpse explain --overwrite --model assets/models/lenet_mnist.onnx --composite deep-taylor-bounded \
		--out $(OUT)/lenet_deep_taylor_bounded assets/images/mnist_*.png
	./target/release/glimpse explain --overwrite --model assets/models/resnet_fashion.onnx --composite epsilon-gamma-box \
		--out $(OUT)/resnet_epsilon_gamma_box assets/images/fashion_*.png
	./target/release/glimpse explain --overwrite --model assets/models/resnet_fashion.onnx --composite epsilon-alpha2-beta1-flat \
		--conservation --out $(OUT)/resnet_epsilon_alpha2_beta1_flat assets/images/fashion_*.png
	./target/release/glimpse explain --overwrite --model assets/models/mlp_breast_cancer.onnx --composite epsilon-plus \
		--pool groups:assets/data/breast_cancer_groups.json --features assets/data/breast_cancer_features.txt \
		--out $(OUT)/tabular_epsilon_plus assets/data/breast_cancer_x.npy
	for t in 3 8 1; do ./target/release/glimpse explain --overwrite --model assets/models/lenet_mnist.onnx \
		--size 28x84 --stride 14 --target $$t --out $(OUT)/lenet_windows_$$t assets/data/mnist_strip_x.npy || exit 1; done
	./target/release/glimpse explain --overwrite --model assets/models/lenet_mnist.onnx --record /conv2/Conv \
		--out $(OUT)/lenet_concepts assets/images/mnist_0_label3.png
	./target/release/glimpse explain --overwrite --model assets/models/lenet_mnist.onnx --condition /conv2/Conv:8 \
		--condition /conv2/Conv:4 --condition /conv2/Conv:1 --condition /conv2/Conv:13 \
		--out $(OUT)/lenet_conditional assets/images/mnist_0_label3.png
	./target/release/glimpse explain --overwrite --model assets/models/lenet_mnist.onnx --method integrated-gradients \
		--steps 64 --out $(OUT)/lenet_integrated_gradients assets/images/mnist_*.png
	./target/release/glimpse explain --overwrite --model assets/models/resnet_fashion.onnx --method grad-cam \
		--layer /block2/conv2/Conv --out $(OUT)/resnet_grad_cam assets/images/fashion_*.png
	./target/release/glimpse evaluate --overwrite --model assets/models/lenet_mnist.onnx --metric region-perturbation \
		--patch-size 4 --regions 49 --labels assets/data/mnist_test_y.npy --method lrp:deep-taylor-bounded \
		--method lrp:epsilon-plus-flat --method lrp:epsilon-gamma-box --method gradient-x-input --method sensitivity \
		--method gradient --method random --out $(OUT)/evaluate_lenet assets/data/mnist_test_x.npy
	./target/release/glimpse evaluate --overwrite --model assets/models/lenet_mnist.onnx --metric continuity \
		--shifts=-20:20 --normalise false --abs false --method sensitivity --method gradient-x-input \
		--method lrp:deep-taylor-bounded --out $(OUT)/continuity_lenet assets/images/mnist_0_label3.png
	# Squeeze-excitation nets, ShuffleNetV2, ConvNeXt, Swin V1 and V2, MaxViT and a vision transformer on one
	# photograph at 64x64: small torchvision configurations with random weights (scripts/golden_families.py,
	# golden_convnext_swin.py, golden_vit.py; no trained weights can be fetched offline). Attention takes CP-LRP,
	# glimpse's default.
	for m in efficientnet_b0_zoo mobilenet_v3_zoo regnet_y_zoo shufflenet_v2_zoo convnext_zoo swin_zoo swin_v2_zoo \
		maxvit_zoo; do ./target/release/glimpse explain \
		--overwrite --model assets/models/$$m.onnx --range=-1,1 --composite epsilon-plus-flat --conservation \
		--out $(OUT)/families_$$m assets/images/chelsea_224.png || exit 1; done
	./target/release/glimpse explain --overwrite --model assets/models/vit_zoo.onnx --range=-1,1 --rule epsilon:1e-6 \
		--conservation --out $(OUT)/families_vit_zoo assets/images/chelsea_224.png
	./target/release/glimpse atlas --overwrite $(LITE0_MODEL) --node _blocks.9._expand_conv --top 6 \
		--channels 565,645,409,2 --batch 8 --out $(OUT)/atlas_lite0 assets/images/atlas
	$(MAKE) prototypes
	@echo "heatmaps (PNG), relevance (.npy), selectivity curves, prototypes and summaries are in $(OUT)/"

DIGITS = $(foreach k,0 1 2 3 4 5 6 7 8 9,--target class:$(k))
AM = ./target/release/glimpse interpret --overwrite --model assets/models/lenet_mnist.onnx $(DIGITS)

# Lucid's recipe on EfficientNet-Lite0: decorrelated Fourier basis, jitter and scale.
LUCID = ./target/release/glimpse interpret --overwrite --model assets/models/efficientnet_lite0.onnx --range=-0.9921875,1 \
	--steps 96 --lr 0.05 --l2 0 --jitter 8 --scale 0.9,1.1 --fourier

## Prototypes by activation maximisation (part of demo): plain, with an under- and an
## over-fitted expert (fitted here on the shipped digits), in the VAE decoder's code space, and
## ImageNet classes and channels of EfficientNet-Lite0 in Lucid's Fourier basis, with and
## without the diversity term.
prototypes: build
	@mkdir -p $(OUT)
	./target/release/glimpse expert fit --force --kind gmm-diag:1 --data assets/data/mnist_test_x.npy --out $(OUT)/expert_low.expert
	./target/release/glimpse expert fit --force --kind gmm:10 --data assets/data/mnist_test_x.npy --out $(OUT)/expert_high.expert
	$(AM) --steps 200 --out $(OUT)/prototypes_plain
	$(AM) --steps 200 --l2 0 --expert $(OUT)/expert_low.expert --expert-weight 0.002 --out $(OUT)/prototypes_expert_low
	$(AM) --steps 200 --l2 0 --expert $(OUT)/expert_high.expert --expert-weight 0.0015 --out $(OUT)/prototypes_expert_high
	$(AM) --steps 200 --l2 0 --expert $(OUT)/expert_high.expert --expert-weight 0.1 --out $(OUT)/prototypes_expert_high_strong
	$(AM) --generator assets/models/mnist_generator.onnx --steps 300 --out $(OUT)/prototypes_code
	$(LUCID) --target class:88 --target class:291 --target class:948 --target channel:_blocks.9.relu6_expand:10 \
		--out $(OUT)/prototypes_lite0
	$(LUCID) --target channel:_blocks.9.relu6_expand:10 --copies 3 --diversity 20 --diversity-node _blocks.6.relu6_expand \
		--out $(OUT)/prototypes_lite0_diversity

## Every test: unit, kernels against f64 references, fixtures against onnxruntime, CLI.
## GLIMPSE_TUNE=off: kernels by adapter type, never what this machine measured before, so that
## golden figures do not depend on it (the tuning tests use their own cache directories).
test: vulkan
	GLIMPSE_TUNE=off $(CARGO) test --release

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

bench: vulkan
	$(CARGO) bench -p glimpse-cli --bench forward --bench lrp

## Regenerates assets/ (needs PyTorch etc.; see scripts/README.md; the golden scripts run separately).
fixtures:
	python3 scripts/make_fixtures.py
	python3 scripts/make_efficientnet_lite0.py
