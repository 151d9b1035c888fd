// A probe for bounds.py: what a compiled decoder would spend parsing the kept fields of JSON Lines works.
//
// simdjson's on-demand parser (Debian's libsimdjson-dev) walks each record and, for every top-level key
// named on the command line, visits every value under it: strings are unescaped, numbers parsed, booleans
// read; the abstract's inverted index is taken as raw JSON text. Other keys are skipped. Nothing is built
// or stored, so this is the decode part of a native ingest, and a pessimistic one: it visits every nested
// field of a kept key, not only those the store keeps.
//
// Usage: native_parse KEY,KEY,... FILE.jsonl...   prints one JSON object (records, values, CPU seconds
// of the parse alone, the files already in memory).
#include <simdjson.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <sys/resource.h>

using namespace simdjson;

namespace {

double cpu_seconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

struct Tally {
  size_t values = 0;
  size_t string_bytes = 0;
  double number_sum = 0;
};

void visit(ondemand::value value, Tally& tally) {
  switch (value.type().value()) {
    case ondemand::json_type::object:
      for (auto field : value.get_object().value()) visit(field.value().value(), tally);
      break;
    case ondemand::json_type::array:
      for (auto item : value.get_array().value()) visit(item.value(), tally);
      break;
    case ondemand::json_type::string:
      tally.string_bytes += value.get_string().value().size();
      break;
    case ondemand::json_type::number:
      tally.number_sum += value.get_double().value();
      break;
    case ondemand::json_type::boolean:
      tally.number_sum += value.get_bool().value();
      break;
    case ondemand::json_type::null:
      break;
  }
  tally.values++;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s KEY,KEY,... FILE.jsonl...\n", argv[0]);
    return 2;
  }
  std::unordered_set<std::string> keys;
  std::string list = argv[1];
  for (size_t start = 0; start <= list.size();) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    keys.insert(list.substr(start, end - start));
    start = end + 1;
  }
  std::vector<padded_string> files;
  for (int i = 2; i < argc; i++) files.emplace_back(padded_string::load(argv[i]).value());

  double start = cpu_seconds();
  ondemand::parser parser;
  Tally tally;
  size_t records = 0;
  for (auto& text : files) {
    ondemand::document_stream stream = parser.iterate_many(text, 1 << 26).value();
    for (auto doc : stream) {
      for (auto field : doc.value().get_object().value()) {
        std::string_view key = field.unescaped_key().value();
        if (!keys.count(std::string(key))) continue;
        ondemand::value value = field.value().value();
        if (key == "abstract_inverted_index" && value.type().value() == ondemand::json_type::object) {
          tally.string_bytes += value.get_object().value().raw_json().value().size();
          continue;
        }
        visit(value, tally);
      }
      records++;
    }
  }
  double cpu = cpu_seconds() - start;
  std::printf("{\"records\": %zu, \"values\": %zu, \"string_bytes\": %zu, \"cpu_s\": %.4f}\n", records,
              tally.values, tally.string_bytes, cpu);
  return 0;
}
