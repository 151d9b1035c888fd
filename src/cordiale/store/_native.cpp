// cordiale.store._native: JSON Lines works → the staging tables' Arrow buffers, in C++.
//
// The compiled twin of `sources/works.py` (decoding) and `store/staging.py` (row building) for the
// common case: a full, current-vintage work record whose ids are canonical OpenAlex URLs. simdjson's DOM
// parser (Debian's libsimdjson-dev) parses each line once, checking all of it as JSON as msgspec does, and
// the record is read from its tape (one pass: an on-demand read beside a DOM check parsed each line twice,
// a third more CPU); every value the store keeps is type-checked as msgspec would. Any line
// it does not handle exactly -- invalid JSON, a wrong type, an institution record, a legacy vintage
// (`host_venue`), an id in another form, an integer outside 32 bits -- is handed back to Python, which
// decodes it (or quarantines it) through the msgspec path. So the store is the same either way.
//
// Parser(wanted_ids): feed(chunk) -> [(line, bytes)] to decode in Python; finish() -> the
// same for the last line without a newline; take() -> {table: {column: buffers}}, then a new batch.
// A column's buffers: ("s"|"i32"|"i64"|"f64"|"b", length, null_count, validity bitmap or None, values
// [, string data]); lists: ("list", length, null_count, validity, offsets, child); counts_by_year:
// ("cby", length, null_count, validity, offsets, year column, cited_by_count column). Bitmaps, values,
// offsets and string data are read-only Buffer objects owning the column's memory (no copy).
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <simdjson.h>

#include <algorithm>
#include <new>
#include <type_traits>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

using namespace simdjson;

namespace {

constexpr std::string_view kOpenAlex = "https://openalex.org/";
constexpr std::string_view kOpenAlexHttp = "http://openalex.org/";

struct Fallback {};  // the line goes through the Python decoder

struct Str {
  std::string_view v;
  bool ok = false;
};

template <class T>
struct Opt {
  T v{};
  bool ok = false;
};

// ---- Arrow-shaped columns --------------------------------------------------------------------------

// A column's memory handed to Python without a copy: a read-only buffer object that owns the container
// the column grew (pyarrow wraps it as it is). Copying each column into a bytes object cost about 1% of a
// parse worker's CPU.
struct Block {
  virtual ~Block() = default;
  virtual const void* data() const = 0;
  virtual size_t size() const = 0;
};

template <class C>
struct BlockOf final : Block {
  C items;
  explicit BlockOf(C&& c) : items(std::move(c)) {}
  const void* data() const override { return items.data(); }
  size_t size() const override { return items.size() * sizeof(typename C::value_type); }
};

struct BufferObject {
  PyObject_HEAD Block* block;
};

PyTypeObject* buffer_type = nullptr;

int Buffer_getbuffer(PyObject* self, Py_buffer* view, int flags) {
  static const char empty[1] = {0};
  const Block* b = reinterpret_cast<BufferObject*>(self)->block;
  const void* data = b->size() ? b->data() : empty;
  return PyBuffer_FillInfo(view, self, const_cast<void*>(data), static_cast<Py_ssize_t>(b->size()), 1, flags);
}

void Buffer_dealloc(PyObject* self) {
  delete reinterpret_cast<BufferObject*>(self)->block;
  PyTypeObject* type = Py_TYPE(self);
  auto free_fn = reinterpret_cast<freefunc>(PyType_GetSlot(type, Py_tp_free));
  free_fn(self);
  Py_DECREF(type);
}

// A new buffer object owning `c` (moved from), or NULL with the error set.
template <class C>
PyObject* own(C&& c) {
  PyObject* obj = PyType_GenericAlloc(buffer_type, 0);
  if (obj == nullptr) return nullptr;
  try {
    reinterpret_cast<BufferObject*>(obj)->block = new BlockOf<std::decay_t<C>>(std::move(c));
  } catch (const std::bad_alloc&) {
    reinterpret_cast<BufferObject*>(obj)->block = nullptr;
    Py_DECREF(obj);
    return PyErr_NoMemory();
  }
  return obj;
}

PyObject* pack_bits(const std::vector<uint8_t>& flags) {
  std::string bits((flags.size() + 7) / 8, '\0');
  for (size_t i = 0; i < flags.size(); i++)
    if (flags[i]) bits[i >> 3] = static_cast<char>(bits[i >> 3] | (1 << (i & 7)));
  return own(std::move(bits));
}

PyObject* validity(const std::vector<uint8_t>& valid, size_t nulls) {
  if (nulls == 0) Py_RETURN_NONE;
  return pack_bits(valid);
}

struct StrCol {
  std::vector<int32_t> offsets{0};
  std::string data;
  std::vector<uint8_t> valid;
  size_t nulls = 0;
  void push(std::string_view s) {
    if (data.size() + s.size() > static_cast<size_t>(INT32_MAX)) throw std::length_error("a staging column over 2 GB");
    data.append(s);
    valid.push_back(1);
    offsets.push_back(static_cast<int32_t>(data.size()));
  }
  void push_null() {
    valid.push_back(0);
    nulls++;
    offsets.push_back(static_cast<int32_t>(data.size()));
  }
  void push(const Str& s) { s.ok ? push(s.v) : push_null(); }
  size_t size() const { return valid.size(); }
  PyObject* to_py() {
    return Py_BuildValue("(snnNNN)", "s", static_cast<Py_ssize_t>(size()), static_cast<Py_ssize_t>(nulls),
                         validity(valid, nulls), own(std::move(offsets)), own(std::move(data)));
  }
};

template <class T>
struct NumCol {
  const char* kind;
  std::vector<T> values;
  std::vector<uint8_t> valid;
  size_t nulls = 0;
  explicit NumCol(const char* k) : kind(k) {}
  void push(T v) {
    values.push_back(v);
    valid.push_back(1);
  }
  void push(const Opt<T>& o) {
    if (o.ok) return push(o.v);
    values.push_back(T{});
    valid.push_back(0);
    nulls++;
  }
  PyObject* to_py() {
    auto length = static_cast<Py_ssize_t>(values.size());  // read before the values are moved out
    return Py_BuildValue("(snnNN)", kind, length, static_cast<Py_ssize_t>(nulls), validity(valid, nulls),
                         own(std::move(values)));
  }
};

struct BoolCol {
  std::vector<uint8_t> values;
  std::vector<uint8_t> valid;
  size_t nulls = 0;
  void push(bool v) {
    values.push_back(v);
    valid.push_back(1);
  }
  void push(const Opt<bool>& o) {
    if (o.ok) return push(o.v);
    values.push_back(0);
    valid.push_back(0);
    nulls++;
  }
  PyObject* to_py() {
    return Py_BuildValue("(snnNN)", "b", static_cast<Py_ssize_t>(values.size()),
                         static_cast<Py_ssize_t>(nulls), validity(valid, nulls), pack_bits(values));
  }
};

struct ListStrCol {
  std::vector<int32_t> offsets{0};
  std::vector<uint8_t> valid;
  size_t nulls = 0;
  StrCol child;
  void close_list() {
    valid.push_back(1);
    offsets.push_back(static_cast<int32_t>(child.size()));
  }
  void push_null() {
    valid.push_back(0);
    nulls++;
    offsets.push_back(static_cast<int32_t>(child.size()));
  }
  PyObject* to_py() {
    return Py_BuildValue("(snnNNN)", "list", static_cast<Py_ssize_t>(valid.size()),
                         static_cast<Py_ssize_t>(nulls), validity(valid, nulls), own(std::move(offsets)),
                         child.to_py());
  }
};

struct CountsCol {  // list<struct<year: int32, cited_by_count: int32>>
  std::vector<int32_t> offsets{0};
  std::vector<uint8_t> valid;
  size_t nulls = 0;
  NumCol<int32_t> year{"i32"};
  NumCol<int32_t> cited{"i32"};
  PyObject* to_py() {
    return Py_BuildValue("(snnNNNN)", "cby", static_cast<Py_ssize_t>(valid.size()),
                         static_cast<Py_ssize_t>(nulls), validity(valid, nulls), own(std::move(offsets)),
                         year.to_py(), cited.to_py());
  }
};

// A dict {name: column.to_py()}; steals nothing, returns a new reference (or NULL on error).
struct DictBuilder {
  PyObject* d = PyDict_New();
  void add(const char* name, PyObject* value) {
    if (d == nullptr) {
      Py_XDECREF(value);
      return;
    }
    if (value == nullptr || PyDict_SetItemString(d, name, value) < 0) {
      Py_CLEAR(d);
    }
    Py_XDECREF(value);
  }
};

// ---- the staging tables ------------------------------------------------------------------------------

// A child row's work: its short id and input line (the columns `work_id` and `_line`).
struct Ref {
  std::string_view id;
  int64_t line;
};

struct Owner {
  StrCol work_id;
  NumCol<int64_t> line{"i64"};
  void push(std::string_view id, int64_t line_no) {
    work_id.push(id);
    line.push(line_no);
  }
  void add_to(DictBuilder& b) {
    b.add("work_id", work_id.to_py());
    b.add("_line", line.to_py());
  }
};

struct Works {
  StrCol id, doi, title, abstract, language, type, publication_date, updated_date, created_date;
  NumCol<int32_t> publication_year{"i32"}, authors_count{"i32"}, cited_by_count{"i32"};
  BoolCol is_retracted, is_paratext, is_authors_truncated, top1, top10, is_oa;
  CountsCol counts_by_year;
  NumCol<double> fwci{"f64"}, percentile{"f64"};
  StrCol oa_status, oa_url, source_id, source_name, source_type, source_issn_l, primary_topic_id;
  NumCol<int64_t> input_line{"i64"};
  PyObject* to_py() {
    DictBuilder b;
    b.add("id", id.to_py());
    b.add("doi", doi.to_py());
    b.add("title", title.to_py());
    b.add("abstract_inverted_index", abstract.to_py());
    b.add("language", language.to_py());
    b.add("type", type.to_py());
    b.add("publication_year", publication_year.to_py());
    b.add("publication_date", publication_date.to_py());
    b.add("updated_date", updated_date.to_py());
    b.add("created_date", created_date.to_py());
    b.add("is_retracted", is_retracted.to_py());
    b.add("is_paratext", is_paratext.to_py());
    b.add("is_authors_truncated", is_authors_truncated.to_py());
    b.add("authors_count", authors_count.to_py());
    b.add("cited_by_count", cited_by_count.to_py());
    b.add("counts_by_year", counts_by_year.to_py());
    b.add("fwci", fwci.to_py());
    b.add("citation_normalized_percentile", percentile.to_py());
    b.add("is_in_top_1_percent", top1.to_py());
    b.add("is_in_top_10_percent", top10.to_py());
    b.add("is_oa", is_oa.to_py());
    b.add("oa_status", oa_status.to_py());
    b.add("oa_url", oa_url.to_py());
    b.add("source_id", source_id.to_py());
    b.add("source_name", source_name.to_py());
    b.add("source_type", source_type.to_py());
    b.add("source_issn_l", source_issn_l.to_py());
    b.add("primary_topic_id", primary_topic_id.to_py());
    b.add("input_line", input_line.to_py());
    return b.d;
  }
};

struct Authorships {
  Owner owner;
  NumCol<int32_t> position{"i32"}, institutions_count{"i32"};
  StrCol author_position, author_id, author_name, author_orcid, raw_author_name;
  BoolCol is_corresponding;
  ListStrCol raw_affiliation_strings, countries;
  PyObject* to_py() {
    DictBuilder b;
    owner.add_to(b);
    b.add("position", position.to_py());
    b.add("author_position", author_position.to_py());
    b.add("author_id", author_id.to_py());
    b.add("author_name", author_name.to_py());
    b.add("author_orcid", author_orcid.to_py());
    b.add("raw_author_name", raw_author_name.to_py());
    b.add("is_corresponding", is_corresponding.to_py());
    b.add("raw_affiliation_strings", raw_affiliation_strings.to_py());
    b.add("countries", countries.to_py());
    b.add("institutions_count", institutions_count.to_py());
    return b.d;
  }
};

struct Links {
  Owner owner;
  NumCol<int32_t> position{"i32"};
  StrCol institution_id;
  PyObject* to_py() {
    DictBuilder b;
    owner.add_to(b);
    b.add("position", position.to_py());
    b.add("institution_id", institution_id.to_py());
    return b.d;
  }
};

struct Topics {
  Owner owner;
  StrCol topic_id, topic_name, subfield_id, subfield_name, field_id, field_name, domain_id, domain_name;
  NumCol<double> score{"f64"};
  BoolCol is_primary;
  PyObject* to_py() {
    DictBuilder b;
    owner.add_to(b);
    b.add("topic_id", topic_id.to_py());
    b.add("topic_name", topic_name.to_py());
    b.add("score", score.to_py());
    b.add("is_primary", is_primary.to_py());
    b.add("subfield_id", subfield_id.to_py());
    b.add("subfield_name", subfield_name.to_py());
    b.add("field_id", field_id.to_py());
    b.add("field_name", field_name.to_py());
    b.add("domain_id", domain_id.to_py());
    b.add("domain_name", domain_name.to_py());
    return b.d;
  }
};

struct Sdgs {
  Owner owner;
  NumCol<int32_t> sdg{"i32"};
  StrCol display_name;
  NumCol<double> score{"f64"};
  PyObject* to_py() {
    DictBuilder b;
    owner.add_to(b);
    b.add("sdg", sdg.to_py());
    b.add("display_name", display_name.to_py());
    b.add("score", score.to_py());
    return b.d;
  }
};

struct References {
  Owner owner;
  StrCol referenced_work_id;
  PyObject* to_py() {
    DictBuilder b;
    owner.add_to(b);
    b.add("referenced_work_id", referenced_work_id.to_py());
    return b.d;
  }
};

struct Funding {
  Owner owner;
  StrCol funder_id, funder_name, award_id, award_openalex_id, origin;
  PyObject* to_py() {
    DictBuilder b;
    owner.add_to(b);
    b.add("funder_id", funder_id.to_py());
    b.add("funder_name", funder_name.to_py());
    b.add("award_id", award_id.to_py());
    b.add("award_openalex_id", award_openalex_id.to_py());
    b.add("origin", origin.to_py());
    return b.d;
  }
};

// ---- one line's values, views into the line or the parser's string buffer ---------------------------

struct Range {
  uint32_t begin = 0, end = 0;
  bool ok = false;  // the list itself is present (not null)
  bool empty() const { return !ok || begin == end; }
};

struct InstT {
  Str id, name, ror, country, type;
  Range lineage;
};

struct AuthT {
  Str position, author_id, author_name, orcid, raw_name, legacy_affiliation;
  Opt<bool> corresponding;
  Range affiliations, countries, institutions;
};

struct TopicT {
  Str id, name, sub_id, sub_name, field_id, field_name, domain_id, domain_name;
  Opt<double> score;
};

struct SdgT {
  Str id, name;
  Opt<double> score;
};

struct FundT {
  Str funder_id, funder_name, award_id, award_openalex_id;
};

struct Line {
  Str id, doi, title, display_name, abstract, language, type, publication_date, updated, created;
  Str oa_status, oa_url, source_id, source_name, source_type, source_issn, primary_topic_id;
  Opt<int32_t> year, cited;
  Opt<bool> retracted, paratext, truncated, is_oa, top1, top10;
  Opt<double> fwci, percentile;
  int abstract_keys = 0;
  bool counts_ok = false;
  std::vector<std::pair<Opt<int32_t>, Opt<int32_t>>> counts;
  Range authorships;
  std::vector<AuthT> auths;
  std::vector<InstT> insts;
  std::vector<Str> strs;  // the items of every list of strings
  Range topics;
  std::vector<TopicT> topic_items;
  bool primary_ok = false;
  TopicT primary;
  Range sdgs;
  std::vector<SdgT> sdg_items;
  Range references;
  Range awards, funders, grants;
  std::vector<FundT> fund_items;

  void clear() {
    std::vector<std::pair<Opt<int32_t>, Opt<int32_t>>> c = std::move(counts);
    std::vector<AuthT> a = std::move(auths);
    std::vector<InstT> i = std::move(insts);
    std::vector<Str> s = std::move(strs);
    std::vector<TopicT> t = std::move(topic_items);
    std::vector<SdgT> g = std::move(sdg_items);
    std::vector<FundT> f = std::move(fund_items);
    *this = Line{};
    c.clear(), a.clear(), i.clear(), s.clear(), t.clear(), g.clear(), f.clear();
    counts = std::move(c), auths = std::move(a), insts = std::move(i), strs = std::move(s);
    topic_items = std::move(t), sdg_items = std::move(g), fund_items = std::move(f);
  }
};

// ---- typed reads: a value of another type than the field's makes the line fall back ---------------

using dom::element;
using dom::element_type;

Str read_str(element v) {
  switch (v.type()) {
    case element_type::NULL_VALUE:
      return {};
    case element_type::STRING:
      return {v.get_string().value_unsafe(), true};
    default:
      throw Fallback{};
  }
}

// msgspec's int: a JSON integer (simdjson's int64 kind; a larger one is uint64 and falls back).
Opt<int32_t> read_i32(element v) {
  switch (v.type()) {
    case element_type::NULL_VALUE:
      return {};
    case element_type::INT64: {
      int64_t x = v.get_int64().value_unsafe();
      if (x < INT32_MIN || x > INT32_MAX) throw Fallback{};
      return {static_cast<int32_t>(x), true};
    }
    default:
      throw Fallback{};
  }
}

Opt<double> read_f64(element v) {
  switch (v.type()) {
    case element_type::NULL_VALUE:
      return {};
    case element_type::INT64:
    case element_type::DOUBLE:
      return {v.get_double().value_unsafe(), true};
    default:
      throw Fallback{};
  }
}

Opt<bool> read_bool(element v) {
  switch (v.type()) {
    case element_type::NULL_VALUE:
      return {};
    case element_type::BOOL:
      return {v.get_bool().value_unsafe(), true};
    default:
      throw Fallback{};
  }
}

// True for an object, false for null; anything else falls back.
bool is_object(element v) {
  switch (v.type()) {
    case element_type::NULL_VALUE:
      return false;
    case element_type::OBJECT:
      return true;
    default:
      throw Fallback{};
  }
}

bool is_array(element v) {
  switch (v.type()) {
    case element_type::NULL_VALUE:
      return false;
    case element_type::ARRAY:
      return true;
    default:
      throw Fallback{};
  }
}

template <class F>
void each_field(element v, F&& f) {
  dom::object object = v.get_object().value_unsafe();
  for (dom::key_value_pair field : object) f(field.key, field.value);
}

template <class F>
void each_item(element v, F&& f) {
  dom::array array = v.get_array().value_unsafe();
  for (element x : array) f(x);
}

Range read_strs(element v, std::vector<Str>& pool) {
  Range r;
  if (!is_array(v)) return r;
  r.ok = true;
  r.begin = static_cast<uint32_t>(pool.size());
  each_item(v, [&](element x) {
    Str s = read_str(x);
    if (!s.ok) throw Fallback{};  // list[str]: a null item is a wrong type
    pool.push_back(s);
  });
  r.end = static_cast<uint32_t>(pool.size());
  return r;
}

void read_named(element v, Str& id, Str& name) {
  id = {}, name = {};
  if (!is_object(v)) return;
  each_field(v, [&](std::string_view k, element x) {
    if (k == "id") id = read_str(x);
    else if (k == "display_name") name = read_str(x);
  });
}

TopicT read_topic(element v) {
  TopicT t;
  each_field(v, [&](std::string_view k, element x) {
    if (k == "id") t.id = read_str(x);
    else if (k == "display_name") t.name = read_str(x);
    else if (k == "score") t.score = read_f64(x);
    else if (k == "subfield") read_named(x, t.sub_id, t.sub_name);
    else if (k == "field") read_named(x, t.field_id, t.field_name);
    else if (k == "domain") read_named(x, t.domain_id, t.domain_name);
  });
  return t;
}

InstT read_institution(element v, Line& L) {
  InstT i;
  each_field(v, [&](std::string_view k, element x) {
    if (k == "id") i.id = read_str(x);
    else if (k == "display_name") i.name = read_str(x);
    else if (k == "ror") i.ror = read_str(x);
    else if (k == "country_code") i.country = read_str(x);
    else if (k == "type") i.type = read_str(x);
    else if (k == "lineage") i.lineage = read_strs(x, L.strs);
  });
  return i;
}

AuthT read_authorship(element v, Line& L) {
  AuthT a;
  each_field(v, [&](std::string_view k, element x) {
    if (k == "author_position") a.position = read_str(x);
    else if (k == "author") {
      a.author_id = a.author_name = a.orcid = {};
      if (!is_object(x)) return;
      each_field(x, [&](std::string_view k2, element y) {
        if (k2 == "id") a.author_id = read_str(y);
        else if (k2 == "display_name") a.author_name = read_str(y);
        else if (k2 == "orcid") a.orcid = read_str(y);
      });
    } else if (k == "institutions") {
      a.institutions = {};
      if (!is_array(x)) return;
      a.institutions.ok = true;
      a.institutions.begin = static_cast<uint32_t>(L.insts.size());
      each_item(x, [&](element y) {
        if (!is_object(y)) throw Fallback{};
        InstT inst = read_institution(y, L);
        L.insts.push_back(inst);
      });
      a.institutions.end = static_cast<uint32_t>(L.insts.size());
    } else if (k == "countries") a.countries = read_strs(x, L.strs);
    else if (k == "is_corresponding") a.corresponding = read_bool(x);
    else if (k == "raw_author_name") a.raw_name = read_str(x);
    else if (k == "raw_affiliation_strings") a.affiliations = read_strs(x, L.strs);
    else if (k == "raw_affiliation_string") a.legacy_affiliation = read_str(x);
  });
  return a;
}

template <class Item, class Read>
Range read_objects(element v, std::vector<Item>& pool, Read&& read) {
  Range r;
  if (!is_array(v)) return r;
  r.ok = true;
  r.begin = static_cast<uint32_t>(pool.size());
  each_item(v, [&](element x) {
    if (!is_object(x)) throw Fallback{};
    pool.push_back(read(x));
  });
  r.end = static_cast<uint32_t>(pool.size());
  return r;
}

void read_line(element root, Line& L) {
  if (root.type() != element_type::OBJECT) throw Fallback{};
  dom::object record = root.get_object().value_unsafe();
  for (dom::key_value_pair field : record) {
    std::string_view k = field.key;
    element x = field.value;
    switch (k.size() ? k[0] : '\0') {
      case 'a':
        if (k == "abstract_inverted_index") {
          L.abstract_keys++;
          L.abstract = {{}, is_object(x)};  // its text is found in the line afterwards (abstract_text)
        } else if (k == "authorships") {
          L.auths.clear();
          L.insts.clear();
          L.authorships = read_objects(x, L.auths, [&](element y) { return read_authorship(y, L); });
        } else if (k == "awards") {
          L.awards = read_objects(x, L.fund_items, [](element y) {
            FundT f;
            each_field(y, [&](std::string_view k2, element z) {
              if (k2 == "id") f.award_openalex_id = read_str(z);
              else if (k2 == "funder_award_id") f.award_id = read_str(z);
              else if (k2 == "funder_id") f.funder_id = read_str(z);
              else if (k2 == "funder_display_name") f.funder_name = read_str(z);
            });
            return f;
          });
        }
        break;
      case 'c':
        if (k == "cited_by_count") L.cited = read_i32(x);
        else if (k == "counts_by_year") {
          L.counts.clear();
          L.counts_ok = is_array(x);
          if (!L.counts_ok) break;
          each_item(x, [&](element y) {
            if (!is_object(y)) throw Fallback{};
            Opt<int32_t> year, cited;
            each_field(y, [&](std::string_view k2, element z) {
              if (k2 == "year") year = read_i32(z);
              else if (k2 == "cited_by_count") cited = read_i32(z);
            });
            L.counts.emplace_back(year, cited);
          });
        } else if (k == "created_date") L.created = read_str(x);
        else if (k == "citation_normalized_percentile") {
          L.percentile = {}, L.top1 = {}, L.top10 = {};
          if (!is_object(x)) break;
          each_field(x, [&](std::string_view k2, element z) {
            if (k2 == "value") L.percentile = read_f64(z);
            else if (k2 == "is_in_top_1_percent") L.top1 = read_bool(z);
            else if (k2 == "is_in_top_10_percent") L.top10 = read_bool(z);
          });
        }
        break;
      case 'd':
        if (k == "doi") L.doi = read_str(x);
        else if (k == "display_name") L.display_name = read_str(x);
        break;
      case 'f':
        if (k == "fwci") L.fwci = read_f64(x);
        else if (k == "funders") {
          L.funders = read_objects(x, L.fund_items, [](element y) {
            FundT f;
            read_named(y, f.funder_id, f.funder_name);
            return f;
          });
        }
        break;
      case 'g':
        if (k == "grants") {
          L.grants = read_objects(x, L.fund_items, [](element y) {
            FundT f;
            each_field(y, [&](std::string_view k2, element z) {
              if (k2 == "funder") f.funder_id = read_str(z);
              else if (k2 == "funder_display_name") f.funder_name = read_str(z);
              else if (k2 == "award_id") f.award_id = read_str(z);
            });
            return f;
          });
        }
        break;
      case 'h':
        if (k == "host_venue" && x.type() != element_type::NULL_VALUE) throw Fallback{};  // legacy vintages
        break;
      case 'i':
        if (k == "id") L.id = read_str(x);
        else if (k == "is_retracted") L.retracted = read_bool(x);
        else if (k == "is_paratext") L.paratext = read_bool(x);
        else if (k == "is_authors_truncated") L.truncated = read_bool(x);
        break;
      case 'l':
        if (k == "language") L.language = read_str(x);
        break;
      case 'o':
        if (k == "open_access") {
          L.is_oa = {}, L.oa_status = {}, L.oa_url = {};
          if (!is_object(x)) break;
          each_field(x, [&](std::string_view k2, element z) {
            if (k2 == "is_oa") L.is_oa = read_bool(z);
            else if (k2 == "oa_status") L.oa_status = read_str(z);
            else if (k2 == "oa_url") L.oa_url = read_str(z);
          });
        }
        break;
      case 'p':
        if (k == "publication_year") L.year = read_i32(x);
        else if (k == "publication_date") L.publication_date = read_str(x);
        else if (k == "primary_topic") {
          L.primary_ok = is_object(x);
          L.primary = L.primary_ok ? read_topic(x) : TopicT{};
        } else if (k == "primary_location") {
          L.source_id = L.source_name = L.source_type = L.source_issn = {};
          if (!is_object(x)) break;
          each_field(x, [&](std::string_view k2, element z) {
            if (k2 != "source") return;
            L.source_id = L.source_name = L.source_type = L.source_issn = {};
            if (!is_object(z)) return;
            each_field(z, [&](std::string_view k3, element s) {
              if (k3 == "id") L.source_id = read_str(s);
              else if (k3 == "display_name") L.source_name = read_str(s);
              else if (k3 == "type") L.source_type = read_str(s);
              else if (k3 == "issn_l") L.source_issn = read_str(s);
            });
          });
        }
        break;
      case 'r':
        if (k == "referenced_works") L.references = read_strs(x, L.strs);
        break;
      case 's':
        if (k == "sustainable_development_goals") {
          L.sdg_items.clear();
          L.sdgs = read_objects(x, L.sdg_items, [](element y) {
            SdgT g;
            each_field(y, [&](std::string_view k2, element z) {
              if (k2 == "id") g.id = read_str(z);
              else if (k2 == "display_name") g.name = read_str(z);
              else if (k2 == "score") g.score = read_f64(z);
            });
            return g;
          });
        }
        break;
      case 't':
        if (k == "title") L.title = read_str(x);
        else if (k == "type") L.type = read_str(x);
        else if (k == "topics") {
          L.topic_items.clear();
          L.topics = read_objects(x, L.topic_items, [](element y) { return read_topic(y); });
        }
        break;
      case 'u':
        if (k == "updated_date") L.updated = read_str(x);
        break;
      default:
        break;
    }
  }
}

// The abstract's inverted index as the line's own text, as msgspec's Raw keeps it: the DOM holds values,
// not their text, so the key is found in the line and its object's extent read from the structural
// index simdjson's first stage left behind. The last `"abstract_inverted_index"` in the line is the
// record's key only if an object follows its colon and, from that object on, brackets close exactly
// once more than they open, at the line's last token (the key is the root object's own). Anything
// else (an escaped key, the word as a key inside the index, a nested copy) falls back to Python.
std::string_view abstract_text(const dom::parser& parser, const char* p, size_t n) {
  constexpr std::string_view key = "\"abstract_inverted_index\"";
  const char* h = nullptr;
  for (size_t end = n; end >= key.size();) {
    const void* q = memrchr(p + key.size() - 2, 'x', end - (key.size() - 2));
    if (q == nullptr) break;
    const char* x = static_cast<const char*>(q);
    const char* start = x - (key.size() - 2);
    if (std::string_view(start, key.size()) == key) {
      h = start;
      break;
    }
    end = static_cast<size_t>(x - p);
  }
  if (h == nullptr) throw Fallback{};
  const internal::dom_parser_implementation& impl = *parser.implementation;
  const uint32_t* idx = impl.structural_indexes.get();
  const uint32_t count = impl.n_structural_indexes;
  const uint32_t* t = std::lower_bound(idx, idx + count, static_cast<uint32_t>(h - p));
  if (t + 2 >= idx + count || *t != static_cast<uint32_t>(h - p) || p[t[1]] != ':' || p[t[2]] != '{')
    throw Fallback{};
  const uint32_t* open = t + 2;
  const uint32_t* close = nullptr;
  int64_t depth = 0;
  for (const uint32_t* i = open; i < idx + count; i++) {
    char c = p[*i];
    if (c == '{' || c == '[') depth++;
    else if (c == '}' || c == ']') {
      depth--;
      if (depth == 0 && close == nullptr) close = i;
      if (depth < 0 && i + 1 != idx + count) throw Fallback{};
    }
  }
  if (close == nullptr || depth != -1) throw Fallback{};
  return std::string_view(p + *open, static_cast<size_t>(*close - *open + 1));
}

// ---- ids --------------------------------------------------------------------------------------------

bool canonical(const Str& s) { return !s.ok || s.v.substr(0, kOpenAlex.size()) == kOpenAlex; }

// `short_id` of a canonical URL (or None): the part after the prefix.
Str short_of(const Str& s) {
  if (!s.ok) return s;
  return {s.v.substr(kOpenAlex.size()), true};
}

// `strip_openalex_prefix`: either prefix dropped, anything else kept as it is.
Str stripped(const Str& s) {
  if (!s.ok) return s;
  if (s.v.substr(0, kOpenAlex.size()) == kOpenAlex) return {s.v.substr(kOpenAlex.size()), true};
  if (s.v.substr(0, kOpenAlexHttp.size()) == kOpenAlexHttp) return {s.v.substr(kOpenAlexHttp.size()), true};
  return s;
}

// `short_id(x) or x`
std::string_view short_or_self(std::string_view v) {
  std::string_view s = v.substr(kOpenAlex.size());
  return s.empty() ? v : s;
}

// The SDG number at the end of its id (`_sdg_number`); -1: none. Non-ASCII digits fall back.
int64_t sdg_number(const Str& id) {
  if (!id.ok || id.v.empty()) return -1;
  std::string_view v = id.v;
  while (!v.empty() && v.back() == '/') v.remove_suffix(1);
  size_t slash = v.rfind('/');
  std::string_view tail = slash == std::string_view::npos ? v : v.substr(slash + 1);
  if (tail.empty()) return -1;
  int64_t n = 0;
  for (char c : tail) {
    if (static_cast<unsigned char>(c) >= 0x80) throw Fallback{};
    if (c < '0' || c > '9') return -1;
    if (tail.size() > 9) throw Fallback{};
    n = n * 10 + (c - '0');
  }
  return n;
}

// ---- the latest description of each institution in the batch (`staging._Latest`) ----------------

struct Latest {
  std::string date;  // updated_date or ""
  std::string updated;
  bool updated_ok = false;
  std::string id, name, ror, country, type;
  bool name_ok = false, ror_ok = false, country_ok = false, type_ok = false, lineage_ok = false;
  std::vector<std::string> lineage;
};

void assign(std::string& dst, bool& ok, const Str& s) {
  ok = s.ok;
  if (s.ok) dst.assign(s.v);
  else dst.clear();
}

// `_lineage` as DuckDB prints a VARCHAR[]: "[I1, I2]" (short ids, repeats dropped; the id itself when empty).
std::string lineage_text(std::string_view iid, const std::vector<std::string_view>& raw) {
  std::vector<std::string_view> ids;
  for (std::string_view x : raw) {
    std::string_view s = short_or_self(x);
    bool dup = false;
    for (std::string_view y : ids) dup = dup || y == s;
    if (!dup) ids.push_back(s);
  }
  if (ids.empty()) ids.push_back(iid);
  std::string text = "[";
  for (size_t k = 0; k < ids.size(); k++) {
    if (k) text += ", ";
    text.append(ids[k]);
  }
  return text + "]";
}

// (present, value) against (present, value): a missing value sorts below any value.
int compare_opt(const Str& a, std::string_view b, bool b_ok) {
  if (a.ok != b_ok) return a.ok ? 1 : -1;
  if (!a.ok) return 0;
  int c = a.v.compare(b);
  return (c > 0) - (c < 0);
}

bool same_id(const Str& a, const Str& b) { return a.ok == b.ok && (!a.ok || a.v == b.v); }

// ---- the parser ---------------------------------------------------------------------------------------

struct State {
  std::unordered_set<std::string> wanted;
  dom::parser parser;  // the whole line checked as JSON, as msgspec does, then read from its tape
  Line line;
  std::string carry;
  std::string scratch;
  int64_t lines = 0, read = 0, filtered = 0;
  int64_t batch_bytes = 0;  // of the lines whose rows the batch holds: a bound on any column's string data
  Works works;
  Authorships authorships;
  Links links;
  Topics topics;
  Sdgs sdgs;
  References references;
  Funding funding;
  std::vector<Latest> latest;
  std::unordered_map<std::string, size_t> latest_index;
  std::vector<std::string_view> distinct;

  // A new batch; the institutions' latest descriptions carry over when they were held back.
  void reset_batch(bool institutions_taken) {
    works = Works{};
    authorships = Authorships{};
    links = Links{};
    topics = Topics{};
    sdgs = Sdgs{};
    references = References{};
    funding = Funding{};
    if (institutions_taken) {
      latest.clear();
      latest_index.clear();
    }
    read = filtered = batch_bytes = 0;
  }

  // Every id the rows shorten must be a canonical URL (other forms take Python's slower path).
  void check_ids() const {
    const Line& L = line;
    if (!canonical(L.source_id) || !canonical(L.primary.id)) throw Fallback{};
    for (const AuthT& a : L.auths)
      if (!canonical(a.author_id)) throw Fallback{};
    for (const InstT& i : L.insts) {
      if (!canonical(i.id)) throw Fallback{};
      for (uint32_t j = i.lineage.begin; i.lineage.ok && j < i.lineage.end; j++)
        if (!canonical(L.strs[j])) throw Fallback{};
    }
    for (const TopicT& t : L.topic_items)
      if (!canonical(t.id)) throw Fallback{};
    for (uint32_t j = L.references.begin; L.references.ok && j < L.references.end; j++)
      if (!canonical(L.strs[j])) throw Fallback{};
    for (const FundT& f : L.fund_items)
      if (!canonical(f.funder_id) || !canonical(f.award_openalex_id)) throw Fallback{};
    for (const SdgT& g : L.sdg_items) sdg_number(g.id);  // throws on what Python reads differently
  }

  bool passes_filter() const {
    if (wanted.empty()) return true;
    const Line& L = line;
    std::string key;
    auto hit = [&](std::string_view v) {
      key.assign(v.substr(kOpenAlex.size()));
      return wanted.count(key) > 0;
    };
    for (const AuthT& a : L.auths) {
      if (!a.institutions.ok) continue;
      for (uint32_t j = a.institutions.begin; j < a.institutions.end; j++) {
        const InstT& i = L.insts[j];
        if (i.id.ok && !i.id.v.empty() && hit(i.id.v)) return true;
        for (uint32_t m = i.lineage.begin; i.lineage.ok && m < i.lineage.end; m++)
          if (hit(L.strs[m].v)) return true;
      }
    }
    return false;
  }

  void commit(int64_t line_no) {
    const Line& L = line;
    const Ref owner{short_of(L.id).v, line_no};
    Works& w = works;
    w.id.push(short_of(L.id));
    w.doi.push(L.doi);
    w.title.push(L.title.ok ? L.title : L.display_name);
    w.abstract.push(L.abstract);
    w.language.push(L.language);
    w.type.push(L.type);
    w.publication_year.push(L.year);
    w.publication_date.push(L.publication_date);
    w.updated_date.push(L.updated);
    w.created_date.push(L.created);
    w.is_retracted.push(L.retracted);
    w.is_paratext.push(L.paratext);
    w.is_authors_truncated.push(L.truncated);
    w.authors_count.push(static_cast<int32_t>(L.authorships.ok ? L.auths.size() : 0));
    w.cited_by_count.push(L.cited);
    CountsCol& c = w.counts_by_year;
    if (L.counts_ok) {
      for (const auto& [year, cited] : L.counts) c.year.push(year), c.cited.push(cited);
      c.valid.push_back(1);
    } else {
      c.valid.push_back(0);
      c.nulls++;
    }
    c.offsets.push_back(static_cast<int32_t>(c.year.values.size()));
    w.fwci.push(L.fwci);
    w.percentile.push(L.percentile);
    w.top1.push(L.top1);
    w.top10.push(L.top10);
    w.is_oa.push(L.is_oa);
    w.oa_status.push(L.oa_status);
    w.oa_url.push(L.oa_url);
    w.source_id.push(short_of(L.source_id));
    w.source_name.push(L.source_name);
    w.source_type.push(L.source_type);
    w.source_issn_l.push(L.source_issn);
    w.primary_topic_id.push(L.primary_ok ? short_of(L.primary.id) : Str{});
    w.input_line.push(line_no);
    commit_authorships(owner);
    commit_topics(owner);
    commit_sdgs(owner);
    for (uint32_t j = L.references.begin; L.references.ok && j < L.references.end; j++) {
      references.owner.push(owner.id, owner.line);
      references.referenced_work_id.push(short_of(L.strs[j]));
    }
    commit_funding(owner);
  }

  void push_list(ListStrCol& col, const Range& r) {
    if (!r.ok) return col.push_null();
    for (uint32_t j = r.begin; j < r.end; j++) col.child.push(line.strs[j].v);
    col.close_list();
  }

  void commit_authorships(const Ref& owner) {
    const Line& L = line;
    Authorships& t = authorships;
    std::string_view date = L.updated.ok ? L.updated.v : std::string_view{};
    for (size_t p = 0; p < L.auths.size(); p++) {
      const AuthT& a = L.auths[p];
      t.owner.push(owner.id, owner.line);
      t.position.push(static_cast<int32_t>(p));
      t.author_position.push(a.position);
      t.author_id.push(short_of(a.author_id));
      t.author_name.push(a.author_name);
      t.author_orcid.push(a.orcid);
      t.raw_author_name.push(a.raw_name);
      t.is_corresponding.push(a.corresponding);
      if (!a.affiliations.ok && a.legacy_affiliation.ok && !a.legacy_affiliation.v.empty()) {
        t.raw_affiliation_strings.child.push(a.legacy_affiliation.v);  // legacy vintages
        t.raw_affiliation_strings.close_list();
      } else {
        push_list(t.raw_affiliation_strings, a.affiliations);
      }
      push_list(t.countries, a.countries);
      distinct.clear();
      for (uint32_t j = a.institutions.begin; a.institutions.ok && j < a.institutions.end; j++) {
        const InstT& i = L.insts[j];
        if (!i.id.ok || i.id.v.empty()) continue;
        remember(i, date);
        bool seen = false;
        for (std::string_view d : distinct) seen = seen || d == i.id.v;
        if (!seen) distinct.push_back(i.id.v);
      }
      for (std::string_view id : distinct) {
        links.owner.push(owner.id, owner.line);
        links.position.push(static_cast<int32_t>(p));
        links.institution_id.push(id.substr(kOpenAlex.size()));
      }
      t.institutions_count.push(static_cast<int32_t>(distinct.size()));
    }
  }

  void remember(const InstT& i, std::string_view date) {
    auto [it, fresh] = latest_index.try_emplace(std::string(i.id.v), latest.size());
    if (fresh) {
      latest.emplace_back();
    } else {
      const Latest& kept = latest[it->second];
      if (date < std::string_view(kept.date)) return;
      if (date == std::string_view(kept.date) && !beats(i, kept)) return;
    }
    Latest& d = latest[it->second];
    d.date.assign(date);
    assign(d.updated, d.updated_ok, line.updated);
    d.id.assign(i.id.v);
    assign(d.name, d.name_ok, i.name);
    assign(d.ror, d.ror_ok, i.ror);
    assign(d.country, d.country_ok, i.country);
    assign(d.type, d.type_ok, i.type);
    d.lineage_ok = i.lineage.ok;
    d.lineage.clear();
    for (uint32_t j = i.lineage.begin; i.lineage.ok && j < i.lineage.end; j++)
      d.lineage.emplace_back(line.strs[j].v);
  }

  // `staging._beats`: on a tie on date, the greater description by the merge's order (lineage as DuckDB
  // prints it, then name, ROR, country, type; a missing value last).
  bool beats(const InstT& i, const Latest& kept) {
    std::vector<std::string_view> raw;
    for (uint32_t j = i.lineage.begin; i.lineage.ok && j < i.lineage.end; j++) raw.push_back(line.strs[j].v);
    std::vector<std::string_view> kept_raw(kept.lineage.begin(), kept.lineage.end());
    int c = lineage_text(short_or_self(i.id.v), raw).compare(lineage_text(short_or_self(kept.id), kept_raw));
    if (c == 0) c = compare_opt(i.name, kept.name, kept.name_ok);
    if (c == 0) c = compare_opt(i.ror, kept.ror, kept.ror_ok);
    if (c == 0) c = compare_opt(i.country, kept.country, kept.country_ok);
    if (c == 0) c = compare_opt(i.type, kept.type, kept.type_ok);
    return c > 0;
  }

  void commit_topics(const Ref& owner) {
    const Line& L = line;
    const TopicT* first = nullptr;
    const TopicT* last = nullptr;
    Str primary_key;
    if (!L.topics.empty()) {
      first = L.topic_items.data() + L.topics.begin;
      last = L.topic_items.data() + L.topics.end;
      primary_key = L.primary_ok ? L.primary.id : first->id;
    } else if (L.primary_ok) {
      first = &L.primary;
      last = first + 1;
      primary_key = L.primary.id;
    } else {
      return;
    }
    std::vector<std::string_view> seen;
    bool marked = false;
    for (const TopicT* t = first; t != last; t++) {
      if (t->id.ok) {
        bool dup = false;
        for (std::string_view s : seen) dup = dup || s == t->id.v;
        if (dup) continue;
        seen.push_back(t->id.v);
      }
      bool is_primary = !marked && same_id(t->id, primary_key);
      marked = marked || is_primary;
      topics.owner.push(owner.id, owner.line);
      topics.topic_id.push(short_of(t->id));
      topics.topic_name.push(t->name);
      topics.score.push(t->score);
      topics.is_primary.push(is_primary);
      topics.subfield_id.push(stripped(t->sub_id));
      topics.subfield_name.push(t->sub_name);
      topics.field_id.push(stripped(t->field_id));
      topics.field_name.push(t->field_name);
      topics.domain_id.push(stripped(t->domain_id));
      topics.domain_name.push(t->domain_name);
    }
  }

  void commit_sdgs(const Ref& owner) {
    const Line& L = line;
    for (uint32_t j = L.sdgs.begin; L.sdgs.ok && j < L.sdgs.end; j++) {
      const SdgT& g = L.sdg_items[j];
      int64_t n = sdg_number(g.id);
      if (n < 0) continue;
      sdgs.owner.push(owner.id, owner.line);
      sdgs.sdg.push(static_cast<int32_t>(n));
      sdgs.display_name.push(g.name);
      sdgs.score.push(g.score);
    }
  }

  void commit_funding(const Ref& owner) {
    const Line& L = line;
    if (L.awards.empty() && L.funders.empty() && L.grants.empty()) return;
    auto rows = [&](const Range& r, const char* origin) {
      for (uint32_t j = r.begin; r.ok && j < r.end; j++) {
        const FundT& f = L.fund_items[j];
        funding.owner.push(owner.id, owner.line);
        funding.funder_id.push(short_of(f.funder_id));
        funding.funder_name.push(f.funder_name);
        funding.award_id.push(f.award_id);
        funding.award_openalex_id.push(short_of(f.award_openalex_id));
        funding.origin.push(std::string_view(origin));
      }
    };
    rows(L.awards, "awards");
    rows(L.funders, "funders");
    rows(L.grants, "grants");
  }

  // One line: its rows kept (true), or false when Python must decode it. A blank line is no record.
  bool parse(const char* p, size_t n) {
    bool blank = true;
    for (size_t i = 0; i < n && blank; i++) blank = std::strchr(" \t\r\n\v\f", p[i]) != nullptr && p[i];
    if (blank) return true;
    line.clear();
    element root;
    if (parser.parse(p, n, false).get(root)) return false;
    try {
      read_line(root, line);
      if (line.abstract_keys > 1) return false;
      if (line.abstract.ok) line.abstract.v = abstract_text(parser, p, n);
      const Str& id = line.id;
      if (!id.ok || id.v.size() <= kOpenAlex.size() || !canonical(id) || id.v[kOpenAlex.size()] != 'W')
        return false;
      check_ids();
    } catch (const Fallback&) {
      return false;
    } catch (const simdjson_error&) {
      return false;
    }
    read++;
    if (!passes_filter()) {
      filtered++;
      return true;
    }
    commit(lines);
    batch_bytes += static_cast<int64_t>(n);
    return true;
  }

  void one_line(const char* p, size_t n, const char* end, PyObject* fallbacks) {
    lines++;
    bool ok;
    if (p + n + SIMDJSON_PADDING <= end) {
      ok = parse(p, n);
    } else {
      scratch.assign(p, n);
      scratch.append(SIMDJSON_PADDING, ' ');
      ok = parse(scratch.data(), n);
    }
    if (!ok) {
      PyObject* item = Py_BuildValue("(Ly#)", static_cast<long long>(lines), p, static_cast<Py_ssize_t>(n));
      if (item != nullptr) {
        PyList_Append(fallbacks, item);
        Py_DECREF(item);
      }
    }
  }

  // Split `data` into lines, as `sources.works.iter_lines` does, and parse each complete one.
  void feed(const char* data, size_t size, PyObject* fallbacks) {
    const char* end = data + size;
    const char* p = data;
    if (!carry.empty()) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', size));
      if (nl == nullptr) {
        carry.append(p, size);
        return;
      }
      carry.append(p, static_cast<size_t>(nl - p));
      size_t n = carry.size();
      carry.append(SIMDJSON_PADDING, ' ');
      one_line(carry.data(), n, carry.data() + carry.size(), fallbacks);
      carry.clear();
      p = nl + 1;
    }
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      if (nl == nullptr) {
        carry.assign(p, static_cast<size_t>(end - p));
        return;
      }
      one_line(p, static_cast<size_t>(nl - p), end, fallbacks);
      p = nl + 1;
    }
  }

  void finish(PyObject* fallbacks) {
    if (carry.empty()) return;
    size_t n = carry.size();
    carry.append(SIMDJSON_PADDING, ' ');
    one_line(carry.data(), n, carry.data() + carry.size(), fallbacks);
    carry.clear();
  }

  PyObject* institutions_to_py(bool include) {
    StrCol id, name, ror, country, type, updated;
    ListStrCol lineage;
    static const std::vector<Latest> none;
    for (const Latest& d : include ? latest : none) {
      std::string_view iid = short_or_self(d.id);
      id.push(iid);
      name.push(Str{d.name, d.name_ok});
      ror.push(Str{d.ror, d.ror_ok});
      country.push(Str{d.country, d.country_ok});
      type.push(Str{d.type, d.type_ok});
      size_t start = lineage.child.size();
      if (!d.lineage_ok || d.lineage.empty()) {
        lineage.child.push(iid);
      } else {
        for (const std::string& x : d.lineage) {
          std::string_view s = short_or_self(x);
          bool dup = false;
          for (size_t j = start; j < lineage.child.size() && !dup; j++) {
            auto a = static_cast<size_t>(lineage.child.offsets[j]);
            auto b = static_cast<size_t>(lineage.child.offsets[j + 1]);
            dup = std::string_view(lineage.child.data).substr(a, b - a) == s;
          }
          if (!dup) lineage.child.push(s);
        }
      }
      lineage.close_list();
      updated.push(Str{d.updated, d.updated_ok});
    }
    DictBuilder b;
    b.add("id", id.to_py());
    b.add("display_name", name.to_py());
    b.add("ror", ror.to_py());
    b.add("country_code", country.to_py());
    b.add("type", type.to_py());
    b.add("lineage", lineage.to_py());
    b.add("seen_updated_date", updated.to_py());
    return b.d;
  }

  PyObject* take(bool institutions) {
    DictBuilder b;
    b.add("works", works.to_py());
    b.add("authorships", authorships.to_py());
    b.add("authorship_institutions", links.to_py());
    b.add("work_topics", topics.to_py());
    b.add("work_sdgs", sdgs.to_py());
    b.add("referenced_works", references.to_py());
    b.add("work_funding", funding.to_py());
    b.add("institutions", institutions_to_py(institutions));
    return b.d;
  }
};

// ---- the Python type ---------------------------------------------------------------------------------

struct ParserObject {
  PyObject_HEAD State* state;
};

int Parser_init(ParserObject* self, PyObject* args, PyObject* kwds) {
  static const char* names[] = {"wanted", nullptr};
  PyObject* wanted = nullptr;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O", const_cast<char**>(names), &wanted)) return -1;
  delete self->state;
  self->state = new State();
  if (wanted != nullptr && wanted != Py_None) {
    PyObject* it = PyObject_GetIter(wanted);
    if (it == nullptr) return -1;
    while (PyObject* x = PyIter_Next(it)) {
      const char* s = PyUnicode_AsUTF8(x);
      if (s != nullptr) self->state->wanted.insert(s);
      Py_DECREF(x);
      if (s == nullptr) {
        Py_DECREF(it);
        return -1;
      }
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) return -1;
  }
  return 0;
}

void Parser_dealloc(ParserObject* self) {
  delete self->state;
  PyTypeObject* type = Py_TYPE(self);
  auto free_fn = reinterpret_cast<freefunc>(PyType_GetSlot(type, Py_tp_free));
  free_fn(self);
  Py_DECREF(type);
}

PyObject* Parser_feed(ParserObject* self, PyObject* arg) {
  Py_buffer view;
  if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return nullptr;
  PyObject* fallbacks = PyList_New(0);
  if (fallbacks != nullptr) {
    try {
      self->state->feed(static_cast<const char*>(view.buf), static_cast<size_t>(view.len), fallbacks);
    } catch (const std::exception& exc) {
      Py_CLEAR(fallbacks);
      PyErr_SetString(PyExc_RuntimeError, exc.what());
    }
  }
  PyBuffer_Release(&view);
  return fallbacks;
}

PyObject* Parser_finish(ParserObject* self, PyObject*) {
  PyObject* fallbacks = PyList_New(0);
  if (fallbacks == nullptr) return nullptr;
  try {
    self->state->finish(fallbacks);
  } catch (const std::exception& exc) {
    Py_DECREF(fallbacks);
    PyErr_SetString(PyExc_RuntimeError, exc.what());
    return nullptr;
  }
  return fallbacks;
}

PyObject* Parser_take(ParserObject* self, PyObject* args, PyObject* kwargs) {
  static const char* keywords[] = {"institutions", nullptr};
  int institutions = 1;
  if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|p", const_cast<char**>(keywords), &institutions))
    return nullptr;
  PyObject* out = self->state->take(institutions != 0);
  self->state->reset_batch(institutions != 0);
  return out;
}

PyObject* Parser_counts(ParserObject* self, PyObject*) {
  State* s = self->state;
  return Py_BuildValue("(LLLnL)", static_cast<long long>(s->lines), static_cast<long long>(s->read),
                       static_cast<long long>(s->filtered), static_cast<Py_ssize_t>(s->works.id.size()),
                       static_cast<long long>(s->batch_bytes));
}

PyMethodDef parser_methods[] = {
    {"feed", reinterpret_cast<PyCFunction>(Parser_feed), METH_O,
     "Parse the complete lines of a chunk; returns [(line, bytes)] for Python to decode."},
    {"finish", reinterpret_cast<PyCFunction>(Parser_finish), METH_NOARGS,
     "Parse the last line (no newline after it); returns the same as feed."},
    {"take", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(Parser_take)), METH_VARARGS | METH_KEYWORDS,
     "take(institutions=True): the batch's columns, {table: {column: buffers}}; starts a new batch. With "
     "institutions=False their latest descriptions are held back (an empty table) and carried into the "
     "next batch, so a file's last take lists each institution once."},
    {"counts", reinterpret_cast<PyCFunction>(Parser_counts), METH_NOARGS,
     "(lines seen, records read in this batch, of which filtered out, works in it, bytes of their lines)."},
    {nullptr, nullptr, 0, nullptr},
};

PyType_Slot parser_slots[] = {
    {Py_tp_doc, const_cast<char*>("Parser(wanted=()): JSON Lines works to staging columns.")},
    {Py_tp_new, reinterpret_cast<void*>(PyType_GenericNew)},
    {Py_tp_init, reinterpret_cast<void*>(Parser_init)},
    {Py_tp_dealloc, reinterpret_cast<void*>(Parser_dealloc)},
    {Py_tp_methods, parser_methods},
    {0, nullptr},
};

PyType_Spec parser_spec = {"cordiale.store._native.Parser", sizeof(ParserObject), 0, Py_TPFLAGS_DEFAULT,
                           parser_slots};

PyType_Slot buffer_slots[] = {
    {Py_tp_doc, const_cast<char*>("A staging column's memory, read-only (the buffer protocol).")},
    {Py_tp_dealloc, reinterpret_cast<void*>(Buffer_dealloc)},
    {Py_bf_getbuffer, reinterpret_cast<void*>(Buffer_getbuffer)},
    {0, nullptr},
};

PyType_Spec buffer_spec = {"cordiale.store._native.Buffer", sizeof(BufferObject), 0, Py_TPFLAGS_DEFAULT,
                           buffer_slots};

PyModuleDef module_def = {PyModuleDef_HEAD_INIT,
                          "_native",
                          "JSON Lines works to the staging tables' Arrow buffers (simdjson).",
                          -1,
                          nullptr,
                          nullptr,
                          nullptr,
                          nullptr,
                          nullptr};

}  // namespace

PyMODINIT_FUNC PyInit__native() {
  PyObject* m = PyModule_Create(&module_def);
  if (m == nullptr) return nullptr;
  PyObject* type = PyType_FromSpec(&parser_spec);
  if (type == nullptr || PyModule_AddObject(m, "Parser", type) < 0) {
    Py_XDECREF(type);
    Py_DECREF(m);
    return nullptr;
  }
  PyObject* buffers = PyType_FromSpec(&buffer_spec);
  if (buffers == nullptr || PyModule_AddObject(m, "Buffer", buffers) < 0) {
    Py_XDECREF(buffers);
    Py_DECREF(m);
    return nullptr;
  }
  buffer_type = reinterpret_cast<PyTypeObject*>(buffers);  // the module holds the reference
  return m;
}
