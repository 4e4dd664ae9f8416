#pragma once
/// \file segment_index.hpp
/// An in-memory index of which contacts carry which tag, as compressed bitmaps (CRoaring), so a
/// tag condition over a million contacts is a handful of set operations instead of a scan.
/// Conditions that read more than tags (fields, orders, ...) are not for this index: use
/// segments (definitions) or evaluate them per contact.

#include <tagflow/contact.hpp>
#include <tagflow/expression.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tagflow {

class engine;

/// Contacts by tag. Contact ids must fit in 32 bits (ids above 4,294,967,295 are refused).
/// Not thread-safe for writers: one thread updates it (or readers share an index that no one
/// updates); const members may run concurrently.
class segment_index {
public:
    /// An empty index.
    segment_index();
    ~segment_index();
    segment_index(segment_index&&) noexcept;
    segment_index& operator=(segment_index&&) noexcept;
    segment_index(const segment_index&) = delete;
    segment_index& operator=(const segment_index&) = delete;

    /// Builds the index from every contact's tags in `e`'s store (engine::visit_tags).
    /// Throws what the store throws, and tagflow::error(errc::invalid_argument) for an id over
    /// 32 bits.
    static segment_index build(const engine& e);

    /// Records that `id` exists and carries exactly `tags` (replacing what it had).
    void update(contact_id id, const std::vector<std::string>& tags);
    /// Records that contact `c` exists with its current tags.
    void update(const contact& c);
    /// Forgets a contact (merged away).
    void remove(contact_id id);
    /// Adds one tag to one contact (the contact then exists).
    void add_tag(contact_id id, const std::string& tag);

    /// The contacts for which `formula` holds, ascending. `not` is relative to every contact the
    /// index knows.
    [[nodiscard]] std::vector<contact_id> members(const tag_formula& formula) const;
    /// How many contacts `formula` holds for; cheaper than members().
    [[nodiscard]] std::uint64_t count(const tag_formula& formula) const;
    /// members() of a condition; throws tagflow::error(errc::invalid_argument) when it reads
    /// anything but tags.
    [[nodiscard]] std::vector<contact_id> members(const expression& condition) const;
    /// count() of a condition; fails as members(expression) does.
    [[nodiscard]] std::uint64_t count(const expression& condition) const;

    /// Contacts known to the index.
    [[nodiscard]] std::uint64_t size() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace tagflow
