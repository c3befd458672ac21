// FlatMap: an ordered map kept as a sorted vector of (key, value) pairs.
//
// The mock's address books (guest-memory allocations and holes, IOMMU
// mappings) hold a few dozen entries and are changed on every ring set-up
// and buffer mapping. A node-based std::map allocates on every insert; a
// FlatMap allocates only when it outgrows its capacity, which it never
// gives back, so a device that is set up and torn down again and again (the
// fuzz targets do so once per input) runs without heap traffic once warm.
//
// The subset of std::map the mock uses: ordered iteration, find,
// lower_bound/upper_bound, emplace of a new key, erase. Iterators are
// invalidated by emplace and erase (vector rules).
//
// Threading: none (like the structures that hold it).
#pragma once

#include <algorithm>
#include <utility>
#include <vector>

namespace vnet::mock {

template <typename K, typename V>
class FlatMap {
 public:
  using value_type = std::pair<K, V>;
  using iterator = typename std::vector<value_type>::iterator;
  using const_iterator = typename std::vector<value_type>::const_iterator;

  explicit FlatMap(size_t capacity = 0) { entries_.reserve(capacity); }

  iterator begin() { return entries_.begin(); }
  iterator end() { return entries_.end(); }
  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void clear() { entries_.clear(); }

  iterator lower_bound(const K& k) {
    return std::lower_bound(entries_.begin(), entries_.end(), k,
                            [](const value_type& e, const K& key) { return e.first < key; });
  }
  const_iterator lower_bound(const K& k) const {
    return const_cast<FlatMap*>(this)->lower_bound(k);
  }
  iterator upper_bound(const K& k) {
    return std::upper_bound(entries_.begin(), entries_.end(), k,
                            [](const K& key, const value_type& e) { return key < e.first; });
  }
  const_iterator upper_bound(const K& k) const {
    return const_cast<FlatMap*>(this)->upper_bound(k);
  }
  iterator find(const K& k) {
    const iterator it = lower_bound(k);
    return it != entries_.end() && it->first == k ? it : entries_.end();
  }
  const_iterator find(const K& k) const { return const_cast<FlatMap*>(this)->find(k); }

  // Inserts (k, v) unless k is present; the entry with key k either way.
  iterator emplace(const K& k, const V& v) {
    const iterator it = lower_bound(k);
    if (it != entries_.end() && it->first == k) return it;
    return entries_.insert(it, value_type{k, v});
  }
  // Inserts or overwrites.
  V& operator[](const K& k) { return emplace(k, V{})->second; }
  iterator erase(const_iterator it) { return entries_.erase(it); }
  size_t erase(const K& k) {
    const iterator it = find(k);
    if (it == entries_.end()) return 0;
    entries_.erase(it);
    return 1;
  }

 private:
  std::vector<value_type> entries_;
};

}  // namespace vnet::mock
