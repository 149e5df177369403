#!/usr/bin/env bash
# Copies sne's non-LibTorch dependencies (headers, CMake package files, shared libraries and the libraries
# those need) from this Debian 12 machine into one relocatable folder, so that sne can be built on a machine
# that has a CUDA PyTorch but not these packages (a GPU cluster node, a container without apt):
#   scripts/bundle-deps.sh BUNDLE_DIR            # here, after scripts/install-deps.sh
#   scripts/build-pytorch.sh BUNDLE_DIR          # there
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 BUNDLE_DIR" >&2; exit 2; }
out="$1"
lib=/usr/lib/x86_64-linux-gnu
rm -rf "$out"
mkdir -p "$out/usr/include" "$out/usr/lib/x86_64-linux-gnu/cmake" "$out/usr/share/cmake" "$out/usr/lib/cmake" \
         "$out/hdf5/include" "$out/hdf5/lib" "$out/runtime"
for d in yaml-cpp spdlog fmt CLI catch2 nlohmann; do cp -a "/usr/include/$d" "$out/usr/include/"; done
for d in yaml-cpp spdlog fmt; do cp -a "$lib/cmake/$d" "$out/usr/lib/x86_64-linux-gnu/cmake/"; done
cp -a /usr/share/cmake/CLI11 /usr/share/cmake/nlohmann_json "$out/usr/share/cmake/"
cp -a /usr/lib/cmake/Catch2 "$out/usr/lib/cmake/"
cp -a /usr/lib/libCatch2*.a "$out/usr/lib/"
cp -a "$lib"/libyaml-cpp.so* "$lib"/libspdlog.so* "$lib"/libfmt.so* "$out/usr/lib/x86_64-linux-gnu/"
# HDF5 (serial) in a flat prefix that FindHDF5 finds through HDF5_ROOT.
cp -a /usr/include/hdf5/serial/. "$out/hdf5/include/"
cp -aL "$lib/libhdf5_serial.so.103" "$out/hdf5/lib/"
ln -sf libhdf5_serial.so.103 "$out/hdf5/lib/libhdf5.so"
# What those libraries need beyond glibc and libstdc++ (build-pytorch.sh drops the ones the target has).
for l in "$lib/libhdf5_serial.so.103" "$lib/libyaml-cpp.so.0.7" "$lib/libspdlog.so.1.10"; do
  ldd "$l" | awk '$3 ~ /^\// {print $3}'
done | sort -u | grep -v -E '/(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^/]*|libpthread|libdl|librt|libresolv)\.so' |
  while read -r so; do cp -aL "$so" "$out/runtime/"; done
du -sh "$out"
