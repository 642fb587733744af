#include "catalog_data.h"

#include <utility>

namespace pidx_gen {

const std::vector<CategorySpec>& Categories() {
  static const std::vector<CategorySpec> kCategories = {
      {"Electronics", 250, {"Apple Inc.", "Samsung", "Sony", "LG", "Anker", "Logitech", "Bose"}},
      {"Home & Kitchen", 130, {"KitchenAid", "OXO", "Cuisinart", "Instant Pot", "Lodge"}},
      {"Clothing", 100, {"Levi's", "Uniqlo", "H&M", "Zara", "Hanes", "The North Face"}},
      {"Sports & Outdoors", 70, {"Nike", "Adidas", "Coleman", "Under Armour", "Yeti"}},
      {"Beauty", 60, {"L'Oreal", "Procter & Gamble", "Nivea", "Maybelline", "Olay"}},
      {"Toys", 50, {"LEGO", "Mattel", "Hasbro", "Melissa & Doug", "Fisher-Price"}},
      {"Books", 45, {"Penguin", "HarperCollins", "O'Reilly Media", "Scholastic"}},
      {"Grocery", 40, {"Nestle", "Kellogg's", "Procter & Gamble", "Kraft Heinz"}},
      {"Automotive", 35, {"Bosch", "Michelin", "3M", "Meguiar's", "Castrol"}},
      {"Health", 30, {"Johnson & Johnson", "Nature Made", "Omron", "Philips"}},
      {"Office Products", 25, {"Post-it", "Sharpie", "HP", "Brother", "Fellowes"}},
      {"Pet Supplies", 22, {"Purina", "KONG", "Pedigree", "Blue Buffalo"}},
      {"Tools", 20, {"DeWalt", "Makita", "Black & Decker", "Stanley", "Bosch"}},
      {"Garden", 18, {"Scotts", "Fiskars", "Miracle-Gro", "Gardena"}},
      {"Jewelry", 15, {"Pandora", "Swarovski", "Tiffany & Co."}},
      {"Shoes", 14, {"Nike", "Adidas", "Skechers", "New Balance", "Crocs"}},
      {"Baby", 12, {"Pampers", "Huggies", "Graco", "Chicco"}},
      {"手机", 12, {"华为", "小米", "OPPO", "Apple Inc.", "Samsung"}},
      {"Music", 10, {"Universal Music", "Sony Music", "Warner Records"}},
      {"Video Games", 9, {"Nintendo", "Sony", "Microsoft", "Electronic Arts"}},
      {"家电", 7, {"海尔", "美的", "格力", "Panasonic", "Philips"}},
      {"Software", 5, {"Microsoft", "Adobe", "Intuit"}},
      {"Luggage", 4, {"Samsonite", "Travelpro", "Osprey"}},
      {"Watches", 4, {"Casio", "Seiko", "Fossil", "Timex"}},
      {"Industrial", 3, {"3M", "Honeywell", "Grainger"}},
      {"Arts & Crafts", 3, {"Crayola", "Cricut", "Faber-Castell"}},
      {"Appliances", 2, {"Whirlpool", "GE Appliances", "Bosch"}},
      {"Musical Instruments", 2, {"Yamaha", "Fender", "Roland"}},
      {"Collectibles", 1, {"Funko", "Hot Wheels"}},
      {"Handmade", 1, {"Etsy Makers", "Local Artisan"}},
  };
  return kCategories;
}

WeightedTable CategoryWeights() {
  std::vector<uint64_t> weights;
  for (const CategorySpec& category : Categories()) weights.push_back(category.weight);
  return WeightedTable(std::move(weights));
}

const std::vector<AttrSpec>& Attributes() {
  static const std::vector<AttrSpec> kAttrs = {
      {"color", {"black", "white", "red", "blue", "navy blue", "green", "silver", "rose gold"}},
      {"size", {"XS", "S", "M", "L", "XL", "XXL", "one size", "10 oz", "1 L"}},
      {"material", {"cotton", "polyester", "stainless steel", "leather", "bamboo", "glass"}},
      {"style", {"modern", "classic", "vintage", "sport", "casual"}},
      {"pattern", {"solid", "striped", "plaid", "floral", "camo"}},
  };
  return kAttrs;
}

}  // namespace pidx_gen
