#pragma once
// Catch2 and LibTorch for tests that use LibTorch themselves.
#include <ATen/ATen.h>
#include <torch/torch.h>

#include "sne_catch.h"
