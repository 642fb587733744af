#include "pidx/catalog/schema.h"

#include "pidx/base/json_read.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

namespace pidx::catalog {
namespace {

struct RoleName {
  FieldRole role;
  const char* name;
};
constexpr RoleName kRoles[] = {
    {FieldRole::kId, "id"},         {FieldRole::kCategory, "category"},
    {FieldRole::kText, "text"},     {FieldRole::kKeyword, "keyword"},
    {FieldRole::kNumber, "number"}, {FieldRole::kAttrs, "attrs"},
};

bool ParseRole(std::string_view name, FieldRole* role) {
  for (const auto& r : kRoles) {
    if (name == r.name) {
      *role = r.role;
      return true;
    }
  }
  return false;
}

// Names appear in terms as "<name>:<token>" and in logs, so they must stay unambiguous there.
bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (c <= 0x20 || c == 0x7f || c == ':') return false;
  }
  return true;
}

}  // namespace

const char* FieldRoleName(FieldRole role) {
  for (const auto& r : kRoles) {
    if (r.role == role) return r.name;
  }
  return "unknown";
}

Schema Schema::Default() {
  // Built through FromJson so the default obeys exactly the rules a schema file does.
  nlohmann::json j = {{"fields",
                       {{{"name", "id"}, {"role", "id"}},
                        {{"name", "category"}, {"role", "category"}},
                        {{"name", "title"}, {"role", "text"}},
                        {{"name", "description"}, {"role", "text"}},
                        {{"name", "brand"}, {"role", "keyword"}},
                        {{"name", "tags"}, {"role", "keyword"}, {"multi", true}},
                        {{"name", "price"}, {"role", "number"}},
                        {{"name", "attrs"}, {"role", "attrs"}}}}};
  Result<Schema> s = FromJson(j);
  assert(s.ok());
  return std::move(s).value();
}

const std::vector<std::string>& StemLanguages() {
  static const std::vector<std::string> kLanguages = {
      "arabic",    "armenian",   "basque",     "catalan",  "danish",     "dutch",
      "english",   "finnish",    "french",     "german",   "greek",      "hindi",
      "hungarian", "indonesian", "irish",      "italian",  "lithuanian", "nepali",
      "norwegian", "porter",     "portuguese", "romanian", "russian",    "serbian",
      "spanish",   "swedish",    "tamil",      "turkish",  "yiddish"};
  return kLanguages;
}

Result<Schema> Schema::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::Config("schema must be a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key != "fields") return Status::Config("schema: unknown key \"" + key + "\"");
  }
  auto it = j.find("fields");
  if (it == j.end() || !it->is_array() || it->empty()) {
    return Status::Config("schema: \"fields\" must be a non-empty array");
  }
  Schema schema;
  std::set<std::string, std::less<>> names, sources;
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& f = (*it)[i];
    const std::string where = "schema: fields[" + std::to_string(i) + "]";
    if (!f.is_object()) return Status::Config(where + " must be an object");
    for (const auto& [key, value] : f.items()) {
      if (key != "name" && key != "source" && key != "role" && key != "multi" && key != "stem") {
        return Status::Config(where + ": unknown key \"" + key + "\"");
      }
    }
    FieldSpec spec;
    auto name = f.find("name");
    if (name == f.end() || !name->is_string()) {
      return Status::Config(where + ": \"name\" must be a string");
    }
    spec.name = name->get<std::string>();
    if (!IsValidName(spec.name)) {
      return Status::Config(where + ": invalid name \"" + spec.name +
                            "\" (empty, or has whitespace, a control character or ':')");
    }
    auto source = f.find("source");
    if (source == f.end()) {
      spec.source = spec.name;
    } else if (!source->is_string() || source->get<std::string>().empty()) {
      return Status::Config(where + " (\"" + spec.name +
                            "\"): \"source\" must be a non-empty string");
    } else {
      spec.source = source->get<std::string>();
    }
    auto role = f.find("role");
    if (role == f.end() || !role->is_string()) {
      return Status::Config(where + " (\"" + spec.name + "\"): \"role\" must be a string");
    }
    if (!ParseRole(role->get<std::string>(), &spec.role)) {
      return Status::Config(where + " (\"" + spec.name + "\"): unknown role \"" +
                            role->get<std::string>() +
                            "\" (expected id, category, text, keyword, number or attrs)");
    }
    auto multi = f.find("multi");
    if (multi != f.end()) {
      if (!multi->is_boolean()) {
        return Status::Config(where + " (\"" + spec.name + "\"): \"multi\" must be true or false");
      }
      spec.multi = multi->get<bool>();
      if (spec.multi && spec.role != FieldRole::kKeyword) {
        return Status::Config(where + " (\"" + spec.name +
                              "\"): \"multi\" is only allowed on keyword fields, not " +
                              FieldRoleName(spec.role));
      }
    }
    auto stem = f.find("stem");
    if (stem != f.end()) {
      const auto& languages = StemLanguages();
      if (!stem->is_string() || std::find(languages.begin(), languages.end(),
                                          stem->get<std::string>()) == languages.end()) {
        std::string names_list;
        for (const auto& l : languages) names_list += (names_list.empty() ? "" : ", ") + l;
        return Status::Config(where + " (\"" + spec.name + "\"): \"stem\" must be one of " +
                              names_list);
      }
      if (spec.role != FieldRole::kText) {
        return Status::Config(where + " (\"" + spec.name +
                              "\"): \"stem\" is only allowed on text fields, not " +
                              FieldRoleName(spec.role));
      }
      spec.stem = stem->get<std::string>();
    }
    if (!names.insert(spec.name).second) {
      return Status::Config("schema: duplicate name \"" + spec.name + "\"");
    }
    // One input key feeds one field: the readers look fields up by source.
    if (!sources.insert(spec.source).second) {
      return Status::Config("schema: duplicate source \"" + spec.source + "\"");
    }
    const int index = static_cast<int>(schema.fields_.size());
    if (spec.role == FieldRole::kId) {
      if (schema.id_index_ >= 0) return Status::Config("schema: more than one field has role id");
      schema.id_index_ = index;
    }
    if (spec.role == FieldRole::kCategory) {
      if (schema.category_index_ >= 0) {
        return Status::Config("schema: more than one field has role category");
      }
      schema.category_index_ = index;
    }
    schema.fields_.push_back(std::move(spec));
  }
  if (schema.id_index_ < 0) return Status::Config("schema: no field has role id");
  if (schema.category_index_ < 0) return Status::Config("schema: no field has role category");
  return schema;
}

Result<Schema> Schema::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Config(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Config(path + ": cannot read: " + std::strerror(errno));
  // The shared JSON reading path: a schema nested 200,000 deep is refused before nlohmann's
  // recursive parser could overflow the stack on it.
  auto j = ParseJson(text.str(), path, kSchemaJsonLimits);
  if (!j.ok()) return Status::Config(j.status().message());
  Result<Schema> schema = FromJson(*j);
  if (!schema.ok()) {
    // "schema: <reason>" becomes "<path>: <reason>": the file names the schema better.
    std::string msg = schema.status().message();
    if (msg.rfind("schema: ", 0) == 0) msg.erase(0, 8);
    return Status::Config(path + ": " + msg);
  }
  return schema;
}

nlohmann::json Schema::ToJson() const {
  nlohmann::json fields = nlohmann::json::array();
  for (const auto& f : fields_) {
    nlohmann::json e = {{"name", f.name}, {"source", f.source}, {"role", FieldRoleName(f.role)}};
    if (f.multi) e["multi"] = true;
    if (!f.stem.empty()) e["stem"] = f.stem;
    fields.push_back(std::move(e));
  }
  return {{"fields", std::move(fields)}};
}

int Schema::FindSource(std::string_view source) const {
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].source == source) return static_cast<int>(i);
  }
  return -1;
}

int Schema::FindName(std::string_view name) const {
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace pidx::catalog
