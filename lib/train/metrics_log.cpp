#include "train/metrics_log.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/files.h"

namespace sne::train {

void append_metrics_record(const std::string& path, const Json& record) {
  std::ofstream log(path, std::ios::app);
  log << record.dump() << "\n";
  log.close();
  if (!log) throw IoError(path + ": cannot append the epoch's record (is the disk full?)");
}

void trim_metrics_log(const std::string& path, int64_t epoch) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;
  std::istringstream in(read_text(path));
  std::string line, kept;
  int64_t last = 0;
  bool dropped = false;
  while (std::getline(in, line)) {
    if (in.eof() && !line.empty()) {  // no newline: a line torn by the kill
      dropped = true;
      break;
    }
    int64_t e = 0;
    try {
      const Json r = Json::parse(line);
      const Json* v = r.is_object() ? r.find("epoch") : nullptr;
      e = v && v->is_number() ? static_cast<int64_t>(v->as_number()) : 0;
    } catch (const std::exception&) {
      e = 0;
    }
    if (e <= last || e > epoch) {
      dropped = true;
      continue;
    }
    kept += line + "\n";
    last = e;
  }
  if (dropped) write_text_atomic(path, kept);
}

}  // namespace sne::train
