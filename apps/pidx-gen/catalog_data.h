// The fixed data a catalog is drawn from: categories with their weights and brands, tags,
// attributes, model-number prefixes and CJK title pieces.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "random.h"

namespace pidx_gen {

struct CategorySpec {
  std::string_view name;
  uint64_t weight;  // relative size; Electronics is ~25% and the tail is tiny on purpose
  std::vector<std::string_view> brands;
};

const std::vector<CategorySpec>& Categories();
// Categories() weights, for picking a product's category.
WeightedTable CategoryWeights();

inline constexpr std::string_view kModelPrefixes[] = {"x", "s",  "m", "pro", "mk",
                                                      "v", "gt", "z", "a"};

inline constexpr std::string_view kTags[] = {
    "bestseller",     "new arrival",  "sale",       "free shipping", "eco-friendly", "gift idea",
    "limited",        "clearance",    "prime",      "handmade",      "imported",     "bundle",
    "refurbished",    "top rated",    "exclusive",  "organic",       "vegan",        "made in usa",
    "back to school", "holiday deal", "staff pick", "trending",      "premium",      "budget",
    "family size",    "travel size",  "kids",       "unisex",        "waterproof",   "wireless",
    "smart home",     "outdoor",      "fitness",    "office",        "kitchen",      "pet friendly",
    "battery",        "recyclable",   "fragile",    "oversized",     "新品",         "包邮",
    "限定",           "セール",       "送料無料"};

struct AttrSpec {
  std::string_view key;
  std::vector<std::string_view> values;
};

const std::vector<AttrSpec>& Attributes();

// CJK title pieces; a CJK title joins a few of them with spaces so that ASCII model numbers
// never touch CJK characters (the analyzer's token boundaries are then unambiguous).
inline constexpr std::string_view kCjkMakers[] = {"华为",   "小米",         "海尔",     "美的",
                                                  "ソニー", "パナソニック", "无印良品", "삼성"};
inline constexpr std::string_view kCjkNouns[] = {
    "手机",       "智能手机",     "笔记本电脑",         "电饭煲",
    "扫地机器人", "保温杯",       "蓝牙耳机",           "空气净化器",
    "充电宝",     "运动鞋",       "ワイヤレスイヤホン", "デジタルカメラ",
    "炊飯器",     "電動歯ブラシ", "スマートウォッチ",   "무선 이어폰"};
inline constexpr std::string_view kCjkModifiers[] = {
    "超薄", "大容量", "新款", "防水", "静音", "快充", "轻便", "高清", "限定モデル", "送料無料"};

}  // namespace pidx_gen
