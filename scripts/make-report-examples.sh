#!/usr/bin/env bash
# Regenerates the example reports committed under docs/reports/ from real runs on this machine:
#   demo/          `sne run` on the embedded default (1000-INR sine zoo, SNE, 10 epochs)
#   inr_compare/   `sne compare` of SNE and the three baselines on the demo zoo, fractions 0.25/0.5/1, 3 seeds
#   cnn_transfer/  `sne transfer` of SNE and STATNN trained on arch1 and arch2 Fashion-MNIST zoos, evaluated also
#                  on a ViT zoo (small zoos of the reduced CPU recipe, 2 seeds)
#   mixed_codes/   `sne encode` of a mixed zoo (the arch1, arch2 and ViT zoos merged) with the arch1 SNE
#   scripts/make-report-examples.sh [WORK_DIR]    (default runs/examples; zoos in WORK_DIR/zoos)
# Every step reuses what an earlier call finished. Takes about half an hour on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work="${1:-runs/examples}"
sne="$root/build/apps/sne"
py=/usr/bin/python3
docs="$root/docs/reports"
mkdir -p "$work/zoos" "$docs"
cnn=(configs/cnn/reduced_cpu.yaml --set generate.cnn.dataset=fashion-mnist)

# 1. The demo run.
"$sne" run --set run.dir="$work/demo"
"$sne" report "$work/demo" -o "$docs/demo"

# 2. SNE and the baselines on the INR-frequency task, with the data-efficiency curve.
"$sne" compare configs/default.yaml -o "$work/inr_compare" --models sne,statnn,deepsets,mlp \
  --fractions 0.25,0.5,1 --seeds 3
"$sne" report "$work/inr_compare" -o "$docs/inr_compare"

# 3. Cross-architecture transfer on small CNN zoos.
gen() {  # name arch count [extra flags]
  local name="$1" arch="$2" count="$3"; shift 3
  "$sne" zoo generate cnn "${cnn[@]}" -o "$work/zoos/$name.h5" --arch "$arch" --count "$count" "$@"
}
gen fmnist_arch1 arch1 150
gen fmnist_arch2 arch2 80
gen fmnist_vit vit 80 --set generate.cnn.vit_patch=7 --set generate.cnn.vit_dim=16 --set generate.cnn.vit_depth=2 \
  --set generate.cnn.vit_heads=2
z="$work/zoos"
"$sne" transfer configs/cnn/performance.yaml -o "$work/cnn_transfer" --models sne,statnn --seeds 2 \
  --train "$z/fmnist_arch1.h5,$z/fmnist_arch2.h5" --eval "$z/fmnist_arch1.h5,$z/fmnist_arch2.h5,$z/fmnist_vit.h5" \
  --set zoo.reader.batch_size=16
"$sne" report "$work/cnn_transfer" -o "$docs/cnn_transfer"

# 4. One SNE reads every architecture: codes of the merged zoo, coloured by architecture.
[[ -f "$z/mixed.h5" ]] || "$py" data-scripts/merge_zoos.py -o "$z/mixed.h5" "$z/fmnist_arch1.h5" "$z/fmnist_arch2.h5" \
  "$z/fmnist_vit.h5"
"$sne" encode "$z/mixed.h5" --checkpoint "$work/cnn_transfer/sne/fmnist_arch1/seed-0/checkpoints/best" \
  -o "$work/mixed_codes.h5" --overwrite
"$sne" report "$work/mixed_codes.h5" -o "$docs/mixed_codes" --color-by architecture

# The reports keep their figures; data.json (the inputs, with every prediction) stays out of the repository.
rm -f "$docs"/*/data.json
echo "examples written to $docs"
