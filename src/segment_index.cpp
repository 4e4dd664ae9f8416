#include <tagflow/engine.hpp>
#include <tagflow/error.hpp>
#include <tagflow/segment_index.hpp>

#include <roaring/roaring.h>

#include <limits>
#include <map>

namespace tagflow {

namespace {

// RAII for one CRoaring bitmap; movable, never shared.
class bitmap {
public:
    bitmap() : r_(roaring_bitmap_create()) {
        if (!r_) {
            throw std::bad_alloc();
        }
    }
    explicit bitmap(roaring_bitmap_t* owned) : r_(owned) {
        if (!r_) {
            throw std::bad_alloc();
        }
    }
    ~bitmap() {
        if (r_) {
            roaring_bitmap_free(r_);
        }
    }
    bitmap(bitmap&& other) noexcept : r_(std::exchange(other.r_, nullptr)) {}
    bitmap& operator=(bitmap&& other) noexcept {
        std::swap(r_, other.r_);
        return *this;
    }
    bitmap(const bitmap&) = delete;
    bitmap& operator=(const bitmap&) = delete;

    [[nodiscard]] bitmap copy() const { return bitmap(roaring_bitmap_copy(r_)); }
    roaring_bitmap_t* get() const noexcept { return r_; }

private:
    roaring_bitmap_t* r_;
};

std::uint32_t narrow(contact_id id) {
    if (id <= 0 || id > std::numeric_limits<std::uint32_t>::max()) {
        throw error(errc::invalid_argument,
                    "segment_index holds contact ids from 1 to 4294967295, not " + std::to_string(id));
    }
    return static_cast<std::uint32_t>(id);
}

} // namespace

struct segment_index::impl {
    bitmap everyone;
    std::map<std::string, bitmap, std::less<>> by_tag;

    bitmap eval(const tag_formula& f) const {
        switch (f.what) {
        case tag_formula::kind::tag: {
            const auto it = by_tag.find(f.tag);
            return it == by_tag.end() ? bitmap() : it->second.copy();
        }
        case tag_formula::kind::constant:
            return f.constant ? everyone.copy() : bitmap();
        case tag_formula::kind::negate: {
            bitmap all = everyone.copy();
            const bitmap inner = eval(f.children.front());
            roaring_bitmap_andnot_inplace(all.get(), inner.get());
            return all;
        }
        case tag_formula::kind::all_of: {
            // Plain tags are intersected straight from the index, smallest first, without copies.
            bitmap acc = f.children.empty() ? everyone.copy() : eval(f.children.front());
            for (std::size_t i = 1; i < f.children.size(); ++i) {
                const auto& child = f.children[i];
                if (child.what == tag_formula::kind::negate &&
                    child.children.front().what == tag_formula::kind::tag) {
                    if (const auto it = by_tag.find(child.children.front().tag); it != by_tag.end()) {
                        roaring_bitmap_andnot_inplace(acc.get(), it->second.get());
                    }
                    continue;
                }
                if (child.what == tag_formula::kind::tag) {
                    const auto it = by_tag.find(child.tag);
                    if (it == by_tag.end()) {
                        return bitmap();
                    }
                    roaring_bitmap_and_inplace(acc.get(), it->second.get());
                    continue;
                }
                const bitmap other = eval(child);
                roaring_bitmap_and_inplace(acc.get(), other.get());
            }
            return acc;
        }
        case tag_formula::kind::any_of: {
            bitmap acc;
            for (const auto& child : f.children) {
                if (child.what == tag_formula::kind::tag) {
                    if (const auto it = by_tag.find(child.tag); it != by_tag.end()) {
                        roaring_bitmap_or_inplace(acc.get(), it->second.get());
                    }
                    continue;
                }
                const bitmap other = eval(child);
                roaring_bitmap_or_inplace(acc.get(), other.get());
            }
            return acc;
        }
        }
        return bitmap();
    }
};

segment_index::segment_index() : impl_(std::make_unique<impl>()) {}
segment_index::~segment_index() = default;
segment_index::segment_index(segment_index&&) noexcept = default;
segment_index& segment_index::operator=(segment_index&&) noexcept = default;

segment_index segment_index::build(const engine& e) {
    segment_index index;
    auto& by_tag = index.impl_->by_tag;
    // Rows arrive grouped by tag in id order: collect each tag's ids, then add them at once.
    std::string current;
    std::vector<std::uint32_t> ids;
    auto flush = [&] {
        if (!ids.empty()) {
            auto& b = by_tag[current];
            roaring_bitmap_add_many(b.get(), ids.size(), ids.data());
            roaring_bitmap_run_optimize(b.get());
            ids.clear();
        }
    };
    e.visit_tags([&](contact_id id, const std::string& tag) {
        if (tag != current) {
            flush();
            current = tag;
        }
        ids.push_back(narrow(id));
    });
    flush();
    for (const auto& c : e.contact_ids()) {
        roaring_bitmap_add(index.impl_->everyone.get(), narrow(c));
    }
    return index;
}

void segment_index::update(contact_id id, const std::vector<std::string>& tags) {
    remove(id);
    const auto n = narrow(id);
    roaring_bitmap_add(impl_->everyone.get(), n);
    for (const auto& t : tags) {
        roaring_bitmap_add(impl_->by_tag[t].get(), n);
    }
}

void segment_index::update(const contact& c) {
    std::vector<std::string> tags;
    for (const auto& [t, since] : c.tags) {
        tags.push_back(t);
    }
    update(c.id, tags);
}

void segment_index::remove(contact_id id) {
    const auto n = narrow(id);
    roaring_bitmap_remove(impl_->everyone.get(), n);
    for (auto& [t, b] : impl_->by_tag) {
        roaring_bitmap_remove(b.get(), n);
    }
}

void segment_index::add_tag(contact_id id, const std::string& tag) {
    const auto n = narrow(id);
    roaring_bitmap_add(impl_->everyone.get(), n);
    roaring_bitmap_add(impl_->by_tag[tag].get(), n);
}

std::vector<contact_id> segment_index::members(const tag_formula& formula) const {
    const bitmap result = impl_->eval(formula);
    std::vector<std::uint32_t> raw(roaring_bitmap_get_cardinality(result.get()));
    roaring_bitmap_to_uint32_array(result.get(), raw.data());
    return {raw.begin(), raw.end()};
}

std::uint64_t segment_index::count(const tag_formula& formula) const {
    return roaring_bitmap_get_cardinality(impl_->eval(formula).get());
}

namespace {

tag_formula formula_of(const expression& condition) {
    auto f = condition.as_tag_formula();
    if (!f) {
        throw error(errc::invalid_argument,
                    "segment_index evaluates tag conditions only (tag(), and, or, not); \"" +
                        condition.source() + "\" reads more");
    }
    return std::move(*f);
}

} // namespace

std::vector<contact_id> segment_index::members(const expression& condition) const {
    return members(formula_of(condition));
}

std::uint64_t segment_index::count(const expression& condition) const {
    return count(formula_of(condition));
}

std::uint64_t segment_index::size() const {
    return roaring_bitmap_get_cardinality(impl_->everyone.get());
}

} // namespace tagflow
