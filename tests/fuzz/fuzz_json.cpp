// The JSON reader (lib/core/json.h): architecture specs, provenance, manifests, training state and metrics logs
// are JSON that users and other tools edit. Malformed text is std::runtime_error with a line and column; a
// parsed value writes a text that reads back to the same text.
#include <stdexcept>

#include "core/json.h"
#include "fuzz_target.h"

SNE_FUZZ_TARGET(data, size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  sne::Json j;
  try {
    j = sne::Json::parse(text);
  } catch (const std::runtime_error&) {
    return 0;  // the documented error for malformed text
  }
  const std::string once = j.dump();
  sne::Json back;
  try {
    back = sne::Json::parse(once);
  } catch (const std::runtime_error& e) {
    sne_fuzz_fail(std::string("json: its own output does not parse: ") + e.what());
  }
  if (back.dump() != once) sne_fuzz_fail("json: dump of parse of dump differs from dump");
  (void)j.dump(2);
  return 0;
}
