#include "vocabulary.h"

#include <functional>
#include <iterator>
#include <set>
#include <string_view>

#include "random.h"

namespace pidx_gen {

namespace {

// Real product words, roughly most common first so they take the head of the Zipf curve. Every
// word is a pure [a-z] token: the analyzer splits on non-alphanumerics, and the query set relies
// on a vocabulary word being exactly one term.
constexpr std::string_view kRealWords =
    "new set pack black white wireless portable premium smart pro mini large small "
    "stainless steel cotton leather classic original organic natural waterproof rechargeable with "
    "for and "
    "bluetooth usb charger cable case cover bag bottle cup mug plate bowl knife pan pot lamp "
    "light led bulb desk chair table shelf storage box organizer holder stand mount kit tool "
    "drill saw hammer screwdriver wrench battery power bank adapter speaker headphones earbuds "
    "keyboard mouse monitor laptop tablet phone camera lens tripod watch band strap ring necklace "
    "bracelet earrings shirt dress pants jeans jacket coat hoodie sweater socks shoes boots "
    "sneakers sandals hat cap gloves scarf towel blanket pillow sheet mattress rug curtain "
    "candle vase frame mirror clock fan heater purifier humidifier vacuum blender toaster kettle "
    "grill oven fryer mixer juicer coffee tea maker filter water air oil soap shampoo lotion "
    "cream serum mask brush comb razor trimmer dryer toy puzzle game doll car truck train robot "
    "blocks book novel guide notebook pen pencil marker paper sticker tape glue scissors "
    "backpack wallet purse luggage suitcase tent sleeping hiking camping fishing cycling yoga "
    "fitness running training gym ball bike helmet lock pump tire wiper seat dog cat pet food "
    "treat leash collar bed toyset garden hose planter seeds soil fertilizer shovel rake "
    "ultra slim compact heavy duty lightweight durable soft warm cool fast quick easy adjustable "
    "foldable washable reusable eco friendly vintage modern rustic elegant cute funny kids men "
    "women girls boys baby toddler adult outdoor indoor kitchen bathroom bedroom office travel "
    "home party holiday christmas birthday wedding gift red blue green yellow pink purple grey "
    "brown silver gold clear bamboo wood glass ceramic silicone plastic metal aluminum wool "
    "linen silk denim canvas nylon digital analog electric manual automatic magnetic solar "
    "hd wifi gaming streaming noise cancelling sport edition series version bundle combo "
    "refill replacement accessory spare parts";

// Syllables for the pseudo-words of the vocabulary tail (brand-like coinages such as "velora").
constexpr std::string_view kOnsets[] = {"b",  "d",  "f",  "g",  "k",  "l",  "m",  "n",  "p",
                                        "r",  "s",  "t",  "v",  "z",  "br", "tr", "gr", "st",
                                        "pl", "kr", "sh", "ch", "th", "fl", "qu", "x"};
constexpr std::string_view kVowels[] = {"a", "e", "i", "o", "u", "a", "e", "o", "ai", "y"};
constexpr std::string_view kCodas[] = {"", "", "", "n", "r", "x", "s", "l", "m", "k", "t"};

}  // namespace

std::vector<std::string> BuildVocabulary() {
  std::vector<std::string> words;
  std::set<std::string, std::less<>> seen;
  auto add = [&](std::string word) {
    if (seen.insert(word).second) words.push_back(std::move(word));
  };
  for (size_t pos = 0; pos < kRealWords.size();) {
    size_t end = kRealWords.find(' ', pos);
    if (end == std::string_view::npos) end = kRealWords.size();
    if (end > pos) add(std::string(kRealWords.substr(pos, end - pos)));
    pos = end + 1;
  }
  Rng rng(0x70696478);  // "pidx"
  while (words.size() < kVocabularySize) {
    std::string word;
    const uint64_t syllables = rng.ChancePpm(750'000) ? 2 : 3;
    for (uint64_t i = 0; i < syllables; ++i) {
      word += kOnsets[rng.Below(std::size(kOnsets))];
      word += kVowels[rng.Below(std::size(kVowels))];
    }
    word += kCodas[rng.Below(std::size(kCodas))];
    add(std::move(word));
  }
  return words;
}

}  // namespace pidx_gen
