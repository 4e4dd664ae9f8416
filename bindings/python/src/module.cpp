// tagflow._core: the compiled half of the Python package `tagflow`.
//
// Conventions kept throughout this file:
//   - Python objects are converted while holding the GIL; the engine is called with the GIL
//     released (py::gil_scoped_release), and the results are converted back once it is held again.
//   - Nothing blocks on a C++ lock while holding the GIL. The only C++ code that takes the GIL is
//     a Python clock callback (and the holder that drops it) and a Python HttpClient's send(), and
//     neither holds a lock of ours.
//   - Times cross the boundary as timezone-aware datetimes (UTC when they come out), with
//     millisecond precision like tagflow::time_point; naive datetimes are refused.
//   - tagflow's exceptions become Python exceptions in one place, translate_error().
#include <pybind11/operators.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <tagflow/tagflow.hpp>

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace py = pybind11;
namespace json = boost::json;

namespace {

// ---------------------------------------------------------------------------------------------
// Python objects the module keeps for its whole life. Deliberately leaked: releasing Python
// references from a static destructor, after the interpreter is gone, would crash.

struct module_refs {
    py::object datetime_type, date_type, timedelta_type, utc, epoch, one_ms;
    py::object json_loads, fsdecode, pathlike_type, mapping_type;
    py::object error, definition_error, event_error, expression_error, store_error, not_found_error;
};

module_refs& refs() {
    static auto* r = new module_refs();
    return *r;
}

// UTF-8 text to str, replacing invalid bytes rather than failing (error messages quote input).
py::str text(std::string_view s) {
    PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
    if (!o) {
        throw py::error_already_set();
    }
    return py::reinterpret_steal<py::str>(o);
}

py::object text_or_none(const std::string& s) {
    return s.empty() ? py::object(py::none()) : py::object(text(s));
}

// An engine-assigned id where 0 means "none".
py::object optional_id(std::int64_t id) {
    return id == 0 ? py::object(py::none()) : py::object(py::int_(id));
}

std::string type_name(py::handle obj) {
    return py::str(py::type::handle_of(obj).attr("__name__"));
}

// ---------------------------------------------------------------------------------------------
// Exceptions: the single mapping from tagflow's C++ exceptions to the Python classes.

py::object make_exception_type(py::module_& m, const char* name, const char* doc, py::handle base,
                               std::initializer_list<const char*> attributes) {
    py::dict defaults;
    defaults["code"] = py::none();
    for (const char* a : attributes) {
        defaults[a] = py::none();
    }
    const std::string qualified = std::string("tagflow.") + name;
    PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, base.ptr(), defaults.ptr());
    if (!type) {
        throw py::error_already_set();
    }
    auto obj = py::reinterpret_steal<py::object>(type);
    m.attr(name) = obj;
    return obj;
}

void raise_as(const py::object& type, const tagflow::error& e, const char* attribute = nullptr,
              py::object value = py::none()) {
    py::object instance = type(text(e.what()));
    instance.attr("code") = text(tagflow::to_string(e.code()));
    if (attribute) {
        instance.attr(attribute) = std::move(value);
    }
    PyErr_SetObject(type.ptr(), instance.ptr());
}

void translate_error(std::exception_ptr p) {
    try {
        if (p) {
            std::rethrow_exception(p);
        }
    } catch (const tagflow::definition_error& e) {
        raise_as(refs().definition_error, e, "path", text(e.path()));
    } catch (const tagflow::event_error& e) {
        raise_as(refs().event_error, e, "field", text(e.field()));
    } catch (const tagflow::syntax_error& e) {
        raise_as(refs().expression_error, e, "column", py::int_(e.column()));
    } catch (const tagflow::error& e) {
        switch (e.code()) {
        case tagflow::errc::not_found:
            raise_as(refs().not_found_error, e);
            break;
        case tagflow::errc::store_failure:
        case tagflow::errc::schema_mismatch:
            raise_as(refs().store_error, e);
            break;
        default:
            raise_as(refs().error, e);
            break;
        }
    }
}

// Re-raises an event_error with `prefix` ("[3].") in front of its field, keeping the reason.
[[noreturn]] void rethrow_prefixed(const tagflow::event_error& e, const std::string& prefix) {
    throw tagflow::event_error(prefix + e.field(), e.detail());
}

// ---------------------------------------------------------------------------------------------
// Time.

using tagflow::time_point;

py::object to_py(time_point t) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss<milliseconds> hms{t - day};
    return refs().datetime_type(static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                                static_cast<unsigned>(ymd.day()), hms.hours().count(), hms.minutes().count(),
                                hms.seconds().count(), hms.subseconds().count() * 1000,
                                py::arg("tzinfo") = refs().utc);
}

py::object to_py(const std::optional<time_point>& t) {
    return t ? to_py(*t) : py::object(py::none());
}

py::object to_py(tagflow::duration d) {
    return refs().timedelta_type(py::arg("milliseconds") = d.count());
}

bool is_datetime(py::handle obj) {
    return py::isinstance(obj, refs().datetime_type);
}

// Milliseconds in a timedelta (floored).
std::int64_t timedelta_ms(py::handle delta) {
    PyObject* q = PyNumber_FloorDivide(delta.ptr(), refs().one_ms.ptr());
    if (!q) {
        throw py::error_already_set();
    }
    return py::reinterpret_steal<py::int_>(q).cast<std::int64_t>();
}

tagflow::duration to_duration(py::handle obj, const char* what) {
    if (!py::isinstance(obj, refs().timedelta_type)) {
        throw py::type_error(std::string(what) + " must be a datetime.timedelta, not " + type_name(obj));
    }
    return tagflow::duration{timedelta_ms(obj)};
}

// An aware datetime as a time_point; std::nullopt for a naive one.
std::optional<time_point> aware_time(py::handle dt) {
    if (dt.attr("utcoffset")().is_none()) {
        return std::nullopt;
    }
    PyObject* diff = PyNumber_Subtract(dt.ptr(), refs().epoch.ptr());
    if (!diff) {
        throw py::error_already_set();
    }
    return time_point{tagflow::duration{timedelta_ms(py::reinterpret_steal<py::object>(diff))}};
}

constexpr const char* naive_message =
    "a naive datetime has no time zone; give it a tzinfo (e.g. datetime.timezone.utc)";

// A datetime (aware) or an ISO 8601 string as a time_point; `what` names it in errors.
time_point to_time(py::handle obj, const char* what) {
    if (is_datetime(obj)) {
        if (auto t = aware_time(obj)) {
            return *t;
        }
        throw tagflow::error(tagflow::errc::invalid_argument, std::string(what) + ": " + naive_message);
    }
    if (py::isinstance<py::str>(obj)) {
        return tagflow::parse_time(obj.cast<std::string>());
    }
    throw py::type_error(std::string(what) +
                         " must be a timezone-aware datetime or an ISO 8601 string, not " + type_name(obj));
}

// ---------------------------------------------------------------------------------------------
// Python values to JSON, for events (errors are event_error naming the field) and for documents
// (definitions, scenarios: errors are definition_error naming the JSON path).

enum class json_target { event, document };

[[noreturn]] void refuse(json_target target, const std::string& path, const std::string& what) {
    if (target == json_target::event) {
        throw tagflow::event_error(path, what);
    }
    throw tagflow::definition_error(path, what);
}

std::string child_path(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}

bool is_mapping(py::handle obj) {
    return PyDict_Check(obj.ptr()) || py::isinstance(obj, refs().mapping_type);
}

std::string utf8_of(py::handle str) {
    Py_ssize_t size = 0;
    const char* data = PyUnicode_AsUTF8AndSize(str.ptr(), &size);
    if (!data) {
        throw py::error_already_set();
    }
    return std::string(data, static_cast<std::size_t>(size));
}

// `as_text`: event maps of text (data, profile.fields) get scalars as Python writes them
// ("31", "1.5", "true") rather than as JSON numbers.
json::value to_json(py::handle obj, const std::string& path, json_target target, bool as_text = false) {
    if (obj.is_none()) {
        return nullptr;
    }
    if (PyBool_Check(obj.ptr())) {
        const bool b = obj.ptr() == Py_True;
        return as_text ? json::value(b ? "true" : "false") : json::value(b);
    }
    if (PyLong_Check(obj.ptr())) {
        if (as_text) {
            return json::value(utf8_of(py::str(obj)));
        }
        int overflow = 0;
        const long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
        if (overflow != 0) {
            refuse(target, path, "integer " + std::string(py::str(obj)) + " is out of range");
        }
        if (v == -1 && PyErr_Occurred()) {
            throw py::error_already_set();
        }
        return json::value(static_cast<std::int64_t>(v));
    }
    if (PyFloat_Check(obj.ptr())) {
        const double d = PyFloat_AsDouble(obj.ptr());
        if (!std::isfinite(d)) {
            refuse(target, path, "expected a finite number, got " + std::string(py::repr(obj)));
        }
        return as_text ? json::value(utf8_of(py::repr(obj))) : json::value(d);
    }
    if (PyUnicode_Check(obj.ptr())) {
        return json::value(utf8_of(obj));
    }
    if (is_datetime(obj)) {
        const auto t = aware_time(obj);
        if (!t) {
            refuse(target, path, naive_message);
        }
        return json::value(tagflow::format_time(*t));
    }
    if (py::isinstance(obj, refs().date_type)) {
        return json::value(utf8_of(obj.attr("isoformat")()));
    }
    if (is_mapping(obj)) {
        json::object out;
        const bool text_values = target == json_target::event && (path == "data" || path == "profile.fields");
        for (auto item : py::iter(obj.attr("items")())) {
            const auto pair = py::reinterpret_borrow<py::tuple>(item);
            if (!PyUnicode_Check(pair[0].ptr())) {
                refuse(target, path, "keys must be strings, got " + type_name(pair[0]));
            }
            const std::string key = utf8_of(pair[0]);
            const std::string sub = target == json_target::event ? child_path(path, key) : path + "." + key;
            if (target == json_target::event && pair[1].is_none()) {
                continue; // in events None means "not given"
            }
            out[key] = to_json(pair[1], sub, target, text_values);
        }
        return out;
    }
    if (PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr())) {
        json::array out;
        std::size_t i = 0;
        for (auto item : obj) {
            out.push_back(to_json(item, path + "[" + std::to_string(i++) + "]", target));
        }
        return out;
    }
    refuse(target, path, "a " + type_name(obj) + " cannot be written as JSON");
}

// One event dict as a tagflow::event. `prefix` ("[i].") names the event within a batch.
tagflow::event event_from_py(py::handle obj, const std::string& prefix) {
    if (!is_mapping(obj)) {
        throw py::type_error(
            (prefix.empty() ? std::string("an event") : "event " + prefix.substr(0, prefix.size() - 1)) +
            " must be a dict, not " + type_name(obj));
    }
    try {
        return tagflow::event_from_json(json::serialize(to_json(obj, "", json_target::event)));
    } catch (const tagflow::event_error& e) {
        if (prefix.empty()) {
            throw;
        }
        rethrow_prefixed(e, prefix);
    }
}

py::object json_to_py(const std::string& s) {
    return refs().json_loads(text(s));
}

// A definitions document or scenario given as a dict, a JSON string or a path.
struct document_source {
    std::string json;                          ///< The document, when given inline.
    std::optional<std::filesystem::path> file; ///< Otherwise the file holding it.
};

document_source document_from_py(py::handle doc, const char* what) {
    if (is_mapping(doc)) {
        return {json::serialize(to_json(doc, "$", json_target::document)), std::nullopt};
    }
    if (py::isinstance<py::str>(doc)) {
        const std::string s = utf8_of(doc);
        const auto first = s.find_first_not_of(" \t\r\n");
        if (first != std::string::npos && s[first] == '{') {
            return {s, std::nullopt};
        }
        return {{}, std::filesystem::path(s)};
    }
    if (py::isinstance(doc, refs().pathlike_type)) {
        return {{}, std::filesystem::path(refs().fsdecode(doc).cast<std::string>())};
    }
    throw py::type_error(std::string(what) + " must be a dict, a JSON string or a path, not " +
                         type_name(doc));
}

// ---------------------------------------------------------------------------------------------
// Clocks.

// A clock that only moves when told to: shared between the Python object and the engines using it.
struct virtual_clock {
    std::atomic<std::int64_t> ms{0};

    time_point now() const { return time_point{tagflow::duration{ms.load()}}; }
};

// Holds a Python callable used as a clock; takes the GIL to drop it, wherever it dies.
struct python_clock {
    py::object fn;

    explicit python_clock(py::object f) : fn(std::move(f)) {}
    python_clock(const python_clock&) = delete;
    python_clock& operator=(const python_clock&) = delete;
    ~python_clock() {
        py::gil_scoped_acquire gil;
        fn = py::object();
    }

    time_point operator()() const {
        py::gil_scoped_acquire gil;
        std::string problem;
        try {
            py::object result = fn();
            if (!is_datetime(result)) {
                problem = "the clock returned a " + type_name(result) + ", not a datetime";
            } else if (auto t = aware_time(result)) {
                return *t;
            } else {
                problem = std::string("the clock returned ") + naive_message;
            }
        } catch (py::error_already_set& e) {
            problem = std::string("the clock raised ") + e.what();
        }
        throw tagflow::error(tagflow::errc::invalid_argument, problem);
    }
};

// ---------------------------------------------------------------------------------------------
// HTTP clients. engine::perform_requests runs without the GIL (like every engine call) and calls
// http_client::send; a Python subclass of HttpClient is reached through the trampoline below,
// which takes the GIL for the duration of its send() and never lets a Python exception out: it
// becomes the answer's `error`, as the engine does for a C++ client that throws.

// "ValueError: no such customer" for a Python exception, without its traceback.
std::string describe(const py::error_already_set& e) {
    try {
        const std::string name = py::str(e.type().attr("__name__"));
        const std::string message = py::str(e.value());
        return message.empty() ? name : name + ": " + message;
    } catch (py::error_already_set&) {
        return "a Python exception that cannot be shown";
    }
}

// A KeyboardInterrupt or SystemExit raised in a Python send() still becomes an error answer (the
// engine goes on with the other requests), and the perform_requests binding raises it again once
// the engine returns. This points at that binding's slot for the current thread while it runs.
thread_local std::optional<py::error_already_set>* pending_interrupt = nullptr;

class interrupt_slot {
public:
    explicit interrupt_slot(std::optional<py::error_already_set>& slot) : saved_(pending_interrupt) {
        pending_interrupt = &slot;
    }
    interrupt_slot(const interrupt_slot&) = delete;
    interrupt_slot& operator=(const interrupt_slot&) = delete;
    ~interrupt_slot() { pending_interrupt = saved_; }

private:
    std::optional<py::error_already_set>* saved_;
};

class py_http_client : public tagflow::http_client {
public:
    tagflow::http_response send(const tagflow::http_request& request) override {
        py::gil_scoped_acquire gil;
        tagflow::http_response response;
        try {
            py::function override = py::get_override(static_cast<const tagflow::http_client*>(this), "send");
            if (!override) {
                response.error = "tagflow.HttpClient.send is not implemented: subclass HttpClient and define "
                                 "send(self, request)";
                return response;
            }
            py::object result = override(py::cast(request, py::return_value_policy::copy));
            if (!py::isinstance<tagflow::http_response>(result)) {
                response.error =
                    "HttpClient.send returned a " + type_name(result) + ", not a tagflow.HttpResponse";
                return response;
            }
            return result.cast<tagflow::http_response>();
        } catch (py::error_already_set& e) {
            if (pending_interrupt && !*pending_interrupt && !e.matches(PyExc_Exception)) {
                *pending_interrupt = e;
            }
            response = {};
            response.error = describe(e);
        } catch (const std::exception& e) {
            response = {};
            response.error = e.what();
        }
        return response;
    }
};

// Text given to an HttpResponse or HttpRequest: str only (the engine stores answers as UTF-8).
std::string text_argument(py::handle obj, const char* what) {
    if (!PyUnicode_Check(obj.ptr())) {
        throw py::type_error(std::string(what) + " must be a str, not " + type_name(obj));
    }
    return utf8_of(obj);
}

int http_status(int status) {
    if (status < 0 || status > 999) {
        throw py::value_error("status must be an HTTP status from 0 to 999 (0: no HTTP answer), not " +
                              std::to_string(status));
    }
    return status;
}

// Headers as a mapping or an iterable of (name, value) pairs, kept in order.
std::vector<std::pair<std::string, std::string>> headers_from_py(py::handle obj) {
    std::vector<std::pair<std::string, std::string>> out;
    py::object items = is_mapping(obj) ? obj.attr("items")() : py::reinterpret_borrow<py::object>(obj);
    for (auto item : py::iter(items)) {
        if (py::isinstance<py::str>(item) || !py::isinstance<py::sequence>(item) || py::len(item) != 2) {
            throw py::type_error(
                "headers must be a mapping or (name, value) pairs, not a sequence holding a " +
                type_name(item));
        }
        auto pair = py::reinterpret_borrow<py::sequence>(item);
        out.emplace_back(text_argument(pair[0], "a header name"), text_argument(pair[1], "a header value"));
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// The engine as Python sees it: closable, safe to share between threads.

class py_engine {
public:
    py_engine(std::unique_ptr<tagflow::engine> e, py::object path, py::object clock)
        : engine_(std::move(e)), path_(std::move(path)), clock_(std::move(clock)),
          options_(engine_->options()) {}

    py_engine(const py_engine&) = delete;
    py_engine& operator=(const py_engine&) = delete;

    ~py_engine() {
        // Dropped by Python with the GIL held; a Python clock's holder re-takes it, which is fine.
        std::unique_lock lock(life_);
        engine_.reset();
    }

    // Runs f(engine) without the GIL, unless the engine is closed.
    template <typename F>
    auto run(F&& f) const {
        py::gil_scoped_release nogil;
        std::shared_lock lock(life_);
        if (!engine_) {
            throw py::value_error("operation on a closed tagflow.Engine");
        }
        return std::forward<F>(f)(*engine_);
    }

    // Waits for calls in progress, then closes the store. Idempotent.
    void close() {
        py::gil_scoped_release nogil;
        std::unique_lock lock(life_);
        engine_.reset();
        closed_ = true;
    }

    bool closed() const noexcept { return closed_.load(); }
    const py::object& path() const noexcept { return path_; }
    const py::object& clock() const noexcept { return clock_; }
    const tagflow::engine_options& options() const noexcept { return options_; }
    // Orders loading definitions against reading them (engine::current_definitions returns a
    // reference that a concurrent load would replace).
    std::shared_mutex& definitions_mutex() const noexcept { return definitions_; }

private:
    mutable std::shared_mutex life_;
    mutable std::shared_mutex definitions_;
    std::unique_ptr<tagflow::engine> engine_;
    std::atomic<bool> closed_{false};
    py::object path_;
    py::object clock_;
    tagflow::engine_options options_;
};

std::unique_ptr<py_engine> make_engine(py::object path, py::object clock, py::object returning_gap,
                                       std::string default_time_zone, int max_cascade_depth,
                                       std::string durability, std::int64_t mmap_bytes) {
    tagflow::engine_options options;
    options.returning_gap = to_duration(returning_gap, "returning_gap");
    if (options.returning_gap.count() <= 0) {
        throw tagflow::error(tagflow::errc::invalid_argument, "returning_gap must be positive");
    }
    if (!tagflow::is_valid_time_zone(default_time_zone)) {
        throw tagflow::error(tagflow::errc::invalid_argument,
                             "default_time_zone \"" + default_time_zone + "\" is not an IANA time zone");
    }
    options.default_time_zone = std::move(default_time_zone);
    options.max_cascade_depth = max_cascade_depth;
    if (py::isinstance<virtual_clock>(clock)) {
        auto shared = clock.cast<std::shared_ptr<virtual_clock>>();
        options.clock = [shared] { return shared->now(); };
    } else if (!clock.is_none()) {
        if (!PyCallable_Check(clock.ptr())) {
            throw py::type_error(
                "clock must be a tagflow.VirtualClock, a callable returning an aware datetime, "
                "or None, not " +
                type_name(clock));
        }
        auto holder = std::make_shared<python_clock>(clock);
        options.clock = [holder] { return (*holder)(); };
    }
    tagflow::sqlite_options sqlite;
    if (durability == "full") {
        sqlite.sync = tagflow::sqlite_options::durability::full;
    } else if (durability == "normal") {
        sqlite.sync = tagflow::sqlite_options::durability::normal;
    } else {
        throw tagflow::error(tagflow::errc::invalid_argument,
                             "durability must be \"full\" or \"normal\", not \"" + durability + "\"");
    }
    if (mmap_bytes < 0) { // refused for an in-memory engine too, not only by open_sqlite_store
        throw tagflow::error(tagflow::errc::invalid_argument,
                             "mmap_bytes must be 0 (no map) or a positive size");
    }
    sqlite.mmap_bytes = mmap_bytes;
    std::optional<std::string> file;
    py::object shown_path = py::none();
    if (!path.is_none()) {
        if (!py::isinstance<py::str>(path) && !py::isinstance(path, refs().pathlike_type)) {
            throw py::type_error("path must be a str, an os.PathLike or None, not " + type_name(path));
        }
        std::string p = refs().fsdecode(path).cast<std::string>();
        if (p != ":memory:") {
            shown_path = text(p);
            file = std::move(p);
        }
    }
    std::unique_ptr<tagflow::engine> e;
    {
        py::gil_scoped_release nogil;
        auto backing = file ? tagflow::open_sqlite_store(*file, sqlite) : tagflow::make_memory_store();
        e = std::make_unique<tagflow::engine>(std::move(backing), std::move(options));
    }
    return std::make_unique<py_engine>(std::move(e), std::move(shown_path), std::move(clock));
}

// ---------------------------------------------------------------------------------------------
// Reprs and conversions of model values.

py::object to_py(const tagflow::value& v) {
    if (const auto* b = std::get_if<bool>(&v)) {
        return py::bool_(*b);
    }
    if (const auto* d = std::get_if<double>(&v)) {
        return py::float_(*d);
    }
    if (const auto* s = std::get_if<std::string>(&v)) {
        return text(*s);
    }
    return py::none();
}

py::list strings(const std::vector<std::string>& items) {
    py::list out;
    for (const auto& s : items) {
        out.append(text(s));
    }
    return out;
}

std::string quote(std::string_view s) {
    return py::repr(text(s)).cast<std::string>();
}

// ---------------------------------------------------------------------------------------------
// Channel adapters. The dispatcher calls channel::send from the thread running dispatch_due,
// which has released the GIL; a Python subclass of Channel is reached through py_channel, which
// takes the GIL for its send() only. A Python exception must not cross back into the dispatcher
// as a py::error_already_set: the dispatcher handles it without the GIL (what(), destruction),
// so it is described and dropped while the GIL is still held, and a plain C++ exception carries
// the text on; the dispatcher records that as a temporary failure, as it does for C++ adapters.

// The adapter failed in Python; the text is "<ExceptionType>: <message>".
class python_adapter_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

bool is_channel_name(std::string_view s) {
    if (s.empty()) {
        return false;
    }
    for (char ch : s) {
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) {
            return false;
        }
    }
    return true;
}

class py_channel : public tagflow::channel {
public:
    py_channel(std::string name, tagflow::channel_capabilities caps, std::string policy)
        : given_name_(std::move(name)), given_caps_(caps), given_policy_(std::move(policy)),
          name_(given_name_), caps_(caps), policy_(given_policy_) {}

    // The dispatcher reads these without the GIL, so they are plain C++ values: what the
    // constructor was given until attach() copies what the Python object says.
    std::string_view name() const noexcept override { return name_; }
    const tagflow::channel_capabilities& capabilities() const noexcept override { return caps_; }
    std::string_view default_policy() const noexcept override { return policy_; }

    const std::string& given_name() const noexcept { return given_name_; }
    const tagflow::channel_capabilities& given_capabilities() const noexcept { return given_caps_; }
    const std::string& given_policy() const noexcept { return given_policy_; }

    // Reads name, capabilities and default_policy from the Python object (class attributes,
    // properties or methods of a subclass, else the constructor's values). They are fixed from the
    // first call on, so a dispatcher thread reading them never races a change. GIL held.
    void attach(py::handle self) {
        auto read = [&](const char* what) {
            py::object v = self.attr(what);
            if (PyCallable_Check(v.ptr()) && !py::isinstance<tagflow::channel_capabilities>(v)) {
                v = v();
            }
            return v;
        };
        py::object name = read("name");
        if (!PyUnicode_Check(name.ptr()) || !is_channel_name(utf8_of(name))) {
            throw py::value_error(
                "a Channel's name must be a channel name such as \"zalo\" (lowercase a-z, 0-9, _ "
                "or -), not " +
                std::string(py::repr(name)) +
                "; pass name= to Channel.__init__ or define `name` in the subclass");
        }
        py::object caps = read("capabilities");
        if (!py::isinstance<tagflow::channel_capabilities>(caps)) {
            throw py::type_error("Channel.capabilities must be a tagflow.ChannelCapabilities, not " +
                                 type_name(caps));
        }
        py::object policy = read("default_policy");
        if (!PyUnicode_Check(policy.ptr())) {
            throw py::type_error("Channel.default_policy must be a str, not " + type_name(policy));
        }
        const std::string n = utf8_of(name);
        const auto c = caps.cast<tagflow::channel_capabilities>();
        const std::string p = utf8_of(policy);
        if (attached_) {
            if (n != name_ || !(c == caps_) || p != policy_) {
                throw py::value_error(
                    "a Channel's name, capabilities and default_policy cannot change once it was "
                    "added to a Dispatcher");
            }
            return;
        }
        name_ = n;
        caps_ = c;
        policy_ = p;
        attached_ = true;
    }

    tagflow::send_result send(const tagflow::outbound_message& message,
                              const tagflow::contact& recipient) override {
        std::string problem;
        {
            py::gil_scoped_acquire gil;
            try {
                py::function override = py::get_override(static_cast<const tagflow::channel*>(this), "send");
                if (!override) {
                    problem = "tagflow.Channel.send is not implemented: subclass Channel and define "
                              "send(self, message, recipient)";
                } else {
                    py::object result = override(py::cast(message, py::return_value_policy::copy),
                                                 py::cast(recipient, py::return_value_policy::copy));
                    if (py::isinstance<tagflow::send_result>(result)) {
                        return result.cast<tagflow::send_result>();
                    }
                    problem = "Channel.send returned a " + type_name(result) + ", not a tagflow.SendResult";
                }
            } catch (py::error_already_set& e) {
                if (pending_interrupt && !*pending_interrupt && !e.matches(PyExc_Exception)) {
                    *pending_interrupt = e; // re-raised by dispatch_due once the dispatcher returns
                }
                problem = describe(e);
            }
        } // the Python exception, if any, is gone before the GIL is released
        throw python_adapter_error(problem);
    }

private:
    std::string given_name_;
    tagflow::channel_capabilities given_caps_;
    std::string given_policy_;
    std::string name_;
    tagflow::channel_capabilities caps_;
    std::string policy_;
    bool attached_ = false;
};

// The adapter as the dispatcher holds it: sharing the C++ object, and keeping its Python object
// (the subclass's send() and attributes) alive for as long as the dispatcher keeps the adapter,
// even when the caller dropped every reference of its own. The last reference may go on a
// thread without the GIL (an adapter replaced inside add_channel), so the deleter takes it.
std::shared_ptr<tagflow::channel> keep_alive(const py::object& adapter) {
    auto target = adapter.cast<std::shared_ptr<tagflow::channel>>();
    std::shared_ptr<py::object> owner(new py::object(adapter), [](py::object* o) {
        py::gil_scoped_acquire gil;
        delete o;
    });
    return {owner, target.get()};
}

// Settings a Python Dispatcher was made with, for its properties.
struct dispatcher_settings {
    tagflow::dispatch_options options;
    bool sleep = true;
};

// The Dispatcher Python sees: a tagflow::dispatcher over the engine of a Python Engine, which it
// keeps alive. Every call goes through py_engine::run, so it releases the GIL and a closed engine
// raises ValueError instead of reaching a destroyed one.
class py_dispatcher {
public:
    py_dispatcher(py::object engine, dispatcher_settings settings)
        : engine_obj_(std::move(engine)), engine_(&engine_obj_.cast<const py_engine&>()),
          settings_(std::move(settings)) {
        auto options = settings_.options;
        if (!settings_.sleep) {
            options.wait = [](tagflow::duration) {}; // simulations: rate limits cost no time
        }
        engine_->run(
            [&](tagflow::engine& e) { dispatcher_ = std::make_unique<tagflow::dispatcher>(e, options); });
    }

    py_dispatcher(const py_dispatcher&) = delete;
    py_dispatcher& operator=(const py_dispatcher&) = delete;

    template <typename F>
    auto run(F&& f) {
        return engine_->run([&](tagflow::engine&) { return std::forward<F>(f)(*dispatcher_); });
    }

    const py::object& engine() const noexcept { return engine_obj_; }
    const dispatcher_settings& settings() const noexcept { return settings_; }

private:
    py::object engine_obj_; // declared first: the dispatcher below goes before the engine it uses
    const py_engine* engine_;
    dispatcher_settings settings_;
    std::unique_ptr<tagflow::dispatcher> dispatcher_;
};

// The Dispatcher whose dispatch_due() is running on this thread (inside a Channel.send), if any.
// The dispatcher holds its lock while it calls adapters, so calling back into it from send()
// would wait for ever; refusing is the only useful answer.
thread_local const py_dispatcher* active_dispatch = nullptr;

class dispatch_scope {
public:
    explicit dispatch_scope(const py_dispatcher& d) : saved_(active_dispatch) { active_dispatch = &d; }
    dispatch_scope(const dispatch_scope&) = delete;
    dispatch_scope& operator=(const dispatch_scope&) = delete;
    ~dispatch_scope() { active_dispatch = saved_; }

private:
    const py_dispatcher* saved_;
};

// `only`: refuse only when that dispatcher is the one dispatching (its lock is held); otherwise
// any dispatch in progress on this thread, which a nested pass would repeat (the row being sent
// is still pending).
void refuse_reentry(const char* what, const py_dispatcher* only = nullptr) {
    if (active_dispatch && (!only || active_dispatch == only)) {
        throw std::runtime_error(std::string(what) +
                                 " cannot be called from a Channel.send while a Dispatcher is "
                                 "dispatching on this thread");
    }
}

tagflow::send_result::outcome outcome_of(std::string_view verdict) {
    using o = tagflow::send_result::outcome;
    for (auto v : {o::sent, o::retry, o::failed, o::blocked}) {
        if (tagflow::to_string(v) == verdict) {
            return v;
        }
    }
    throw py::value_error("unknown send outcome \"" + std::string(verdict) +
                          "\"; expected sent, retry, failed or "
                          "blocked");
}

tagflow::send_result::outcome outcome_from_py(py::handle obj) {
    if (py::isinstance<tagflow::send_result::outcome>(obj)) {
        return obj.cast<tagflow::send_result::outcome>();
    }
    if (PyUnicode_Check(obj.ptr())) {
        return outcome_of(utf8_of(obj));
    }
    throw py::type_error("outcome must be a tagflow.Outcome or its name, not " + type_name(obj));
}

std::optional<tagflow::duration> retry_after_from_py(py::handle obj) {
    if (obj.is_none()) {
        return std::nullopt;
    }
    auto d = to_duration(obj, "retry_after");
    if (d.count() < 0) {
        throw py::value_error("retry_after must not be negative");
    }
    return d;
}

tagflow::simulation_result simulate(py::handle scenario, py::object base_dir, py::object db) {
    auto source = document_from_py(scenario, "scenario");
    std::filesystem::path base;
    const bool has_base = !base_dir.is_none();
    if (has_base) {
        base = refs().fsdecode(base_dir).cast<std::string>();
    }
    std::optional<std::string> db_path;
    if (!db.is_none()) {
        db_path = refs().fsdecode(db).cast<std::string>();
    }
    py::gil_scoped_release nogil;
    auto backing = db_path ? tagflow::open_sqlite_store(*db_path) : nullptr;
    if (source.file && !has_base) {
        return tagflow::run_scenario_file(*source.file, std::move(backing)); // its directory is the base
    }
    if (source.file) {
        std::ifstream in(*source.file, std::ios::binary);
        if (!in) {
            throw tagflow::error(tagflow::errc::not_found,
                                 "cannot read scenario file " + source.file->string());
        }
        source.json.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return tagflow::run_scenario(source.json, base, std::move(backing));
}

} // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "tagflow's compiled core; import the `tagflow` package instead of this module.";

    {
        auto& r = refs();
        auto datetime = py::module_::import("datetime");
        r.datetime_type = datetime.attr("datetime");
        r.date_type = datetime.attr("date");
        r.timedelta_type = datetime.attr("timedelta");
        r.utc = datetime.attr("timezone").attr("utc");
        r.epoch = r.datetime_type(1970, 1, 1, py::arg("tzinfo") = r.utc);
        r.one_ms = r.timedelta_type(py::arg("milliseconds") = 1);
        r.json_loads = py::module_::import("json").attr("loads");
        auto os = py::module_::import("os");
        r.fsdecode = os.attr("fsdecode");
        r.pathlike_type = os.attr("PathLike");
        r.mapping_type = py::module_::import("collections.abc").attr("Mapping");

        r.error = make_exception_type(m, "Error",
                                      "Base of every tagflow error. `code` is the error code's name, e.g. "
                                      "'invalid_event'.",
                                      PyExc_Exception, {});
        r.definition_error = make_exception_type(
            m, "DefinitionError",
            "A definitions document or scenario was refused. `path` is the JSON path of the offending value, "
            "e.g. '$.rules[0].if'.",
            r.error, {"path"});
        r.event_error = make_exception_type(
            m, "EventError",
            "An event was refused before anything was written. `field` names the offending field, e.g. "
            "'profile.phone' (or '[2].payload' within a batch).",
            r.error, {"field"});
        r.expression_error =
            make_exception_type(m, "ExpressionError",
                                "An expression failed to parse. `column` is 1-based and counts code points.",
                                r.error, {"column"});
        r.store_error = make_exception_type(
            m, "StoreError", "The store failed (I/O, corruption) or was written by a newer tagflow.", r.error,
            {});
        r.not_found_error =
            make_exception_type(m, "NotFoundError", "A contact, file or record does not exist.", r.error, {});
    }
    py::register_exception_translator(&translate_error);

    m.attr("__version__") = tagflow::version_string();
    m.attr("DEFINITIONS_SCHEMA_VERSION") = tagflow::definitions_schema_version;

    // ----- VirtualClock
    py::class_<virtual_clock, std::shared_ptr<virtual_clock>>(
        m, "VirtualClock",
        "A clock that moves only when told to. Pass it as Engine(clock=...) to give events without "
        "`at` a controlled time.")
        .def(py::init([](py::object start) {
                 auto c = std::make_shared<virtual_clock>();
                 c->ms = to_time(start, "start").time_since_epoch().count();
                 return c;
             }),
             py::arg("start"))
        .def(
            "now", [](const virtual_clock& c) { return to_py(c.now()); }, "The clock's time (aware, UTC).")
        .def("__call__", [](const virtual_clock& c) { return to_py(c.now()); })
        .def(
            "advance",
            [](virtual_clock& c, py::object delta) {
                const auto d = to_duration(delta, "delta");
                if (d.count() < 0) {
                    throw py::value_error("a VirtualClock cannot advance by a negative timedelta; use set()");
                }
                return to_py(time_point{tagflow::duration{c.ms.fetch_add(d.count()) + d.count()}});
            },
            py::arg("delta"), "Moves the clock forward and returns the new time.")
        .def(
            "set",
            [](virtual_clock& c, py::object at) { c.ms = to_time(at, "at").time_since_epoch().count(); },
            py::arg("at"), "Sets the clock to an aware datetime or ISO 8601 string.")
        .def("__repr__", [](const virtual_clock& c) {
            return "VirtualClock(" + quote(tagflow::format_time(c.now())) + ")";
        });

    // ----- Model classes (immutable snapshots)
    py::class_<tagflow::note>(m, "Note", "A note on a contact.")
        .def_property_readonly("author", [](const tagflow::note& n) { return text(n.author); })
        .def_property_readonly("at", [](const tagflow::note& n) { return to_py(n.at); })
        .def_property_readonly("text", [](const tagflow::note& n) { return text(n.text); })
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::note& n) {
            return "Note(author=" + quote(n.author) + ", at=" + quote(tagflow::format_time(n.at)) +
                   ", text=" + quote(n.text) + ")";
        });

    py::class_<tagflow::flow_run>(m, "FlowRun",
                                  "Where a contact is in a flow: its block, what it waits for, its callers.")
        .def_property_readonly("flow", [](const tagflow::flow_run& r) { return text(r.flow); })
        .def_property_readonly("block", [](const tagflow::flow_run& r) { return text(r.block); })
        .def_property_readonly(
            "waiting", [](const tagflow::flow_run& r) { return text_or_none(r.waiting); },
            "What the run waits for ('reply', 'form', 'timer', 'until', 'request', "
            "'handoff'), or None.")
        .def_readonly("retries", &tagflow::flow_run::retries)
        .def_property_readonly(
            "timer", [](const tagflow::flow_run& r) { return optional_id(r.timer); },
            "The pending timer's id, or None.")
        .def_property_readonly(
            "request", [](const tagflow::flow_run& r) { return optional_id(r.request); },
            "The pending external request's id, or None.")
        .def_readonly("definitions_version", &tagflow::flow_run::definitions_version)
        .def_property_readonly(
            "stack",
            [](const tagflow::flow_run& r) {
                py::list out;
                for (const auto& f : r.stack) {
                    out.append(py::make_tuple(text(f.flow), text(f.next)));
                }
                return out;
            },
            "Callers as (flow, next block) pairs, innermost last.")
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::flow_run& r) {
            return "<FlowRun " + quote(r.flow + "/" + r.block) +
                   (r.waiting.empty() ? std::string() : " waiting=" + quote(r.waiting)) + " v" +
                   std::to_string(r.definitions_version) + ">";
        });

    py::class_<tagflow::button>(m, "Button",
                                "A button on an outbound message: a title and its postback payload.")
        .def(py::init([](py::object title, py::object payload) {
                 return tagflow::button{text_argument(title, "title"), text_argument(payload, "payload")};
             }),
             py::arg("title"), py::arg("payload"))
        .def_property_readonly("title", [](const tagflow::button& b) { return text(b.title); })
        .def_property_readonly("payload", [](const tagflow::button& b) { return text(b.payload); })
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::button& b) {
            return "Button(" + quote(b.title) + ", " + quote(b.payload) + ")";
        });

    py::class_<tagflow::channel_state>(
        m, "ChannelState",
        "What one of a contact's channels allows: the facts channel policies read. "
        "Build one to try evaluate_policy().")
        .def(py::init([](py::object last_inbound, int replies_since_inbound, std::optional<bool> follower,
                         py::object sends) {
                 tagflow::channel_state st;
                 if (!last_inbound.is_none()) {
                     st.last_inbound = to_time(last_inbound, "last_inbound");
                 }
                 st.replies_since_inbound = replies_since_inbound;
                 st.follower = follower;
                 if (!sends.is_none()) {
                     for (auto item : py::iter(sends.attr("items")())) {
                         const auto pair = py::reinterpret_borrow<py::tuple>(item);
                         auto& times = st.sends[text_argument(pair[0], "a sends purpose")];
                         for (auto t : pair[1]) {
                             times.push_back(to_time(t, "sends"));
                         }
                     }
                 }
                 return st;
             }),
             py::kw_only(), py::arg("last_inbound") = py::none(), py::arg("replies_since_inbound") = 0,
             py::arg("follower") = py::none(), py::arg("sends") = py::none())
        .def_property_readonly(
            "last_inbound", [](const tagflow::channel_state& st) { return to_py(st.last_inbound); },
            "Last message, button press or form on this channel.")
        .def_readonly("replies_since_inbound", &tagflow::channel_state::replies_since_inbound,
                      "Messages decided on this channel since then.")
        .def_readonly("follower", &tagflow::channel_state::follower,
                      "Follows the account (Zalo OA); None when unknown.")
        .def_property_readonly(
            "sends",
            [](const tagflow::channel_state& st) {
                py::dict out;
                for (const auto& [purpose, times] : st.sends) {
                    py::list at;
                    for (const auto& t : times) {
                        at.append(to_py(t));
                    }
                    out[text(purpose)] = at;
                }
                return out;
            },
            "When messages went or will go out here, by purpose, within the policy windows.")
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::channel_state& st) {
            std::string s =
                "<ChannelState last_inbound=" +
                (st.last_inbound ? quote(tagflow::format_time(*st.last_inbound)) : std::string("None")) +
                " replies_since_inbound=" + std::to_string(st.replies_since_inbound);
            if (st.follower) {
                s += std::string(" follower=") + (*st.follower ? "True" : "False");
            }
            return s + ">";
        });

    py::class_<tagflow::sequence_state>(
        m, "SequenceState", "A contact's place in one sequence; kept after leaving, for re-entry.")
        .def_property_readonly(
            "entered", [](const tagflow::sequence_state& st) { return to_py(st.entered); },
            "When the contact entered (this time).")
        .def_readonly("next_step", &tagflow::sequence_state::next_step, "Index of the step to run next.")
        .def_property_readonly("last_step_at",
                               [](const tagflow::sequence_state& st) { return to_py(st.last_step_at); })
        .def_property_readonly(
            "timer", [](const tagflow::sequence_state& st) { return optional_id(st.timer); },
            "The pending timer's id, or None.")
        .def_readonly("sends", &tagflow::sequence_state::sends, "Messages sent in this subscription.")
        .def_readonly("active", &tagflow::sequence_state::active,
                      "A member: still carries the tag / matches the segment.")
        .def_readonly("completed", &tagflow::sequence_state::completed, "Nothing left to run.")
        .def_property_readonly(
            "left_at", [](const tagflow::sequence_state& st) { return to_py(st.left_at); },
            "When it last left, or None.")
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::sequence_state& st) {
            return "<SequenceState next_step=" + std::to_string(st.next_step) + (st.active ? " active" : "") +
                   (st.completed ? " completed" : "") + " sends=" + std::to_string(st.sends) + ">";
        });

    py::class_<tagflow::contact>(m, "Contact", "A snapshot of one contact, as stored when it was read.")
        .def_readonly("id", &tagflow::contact::id)
        .def_property_readonly("identities",
                               [](const tagflow::contact& c) {
                                   py::list out;
                                   for (const auto& i : c.identities) {
                                       out.append(text(i.to_string()));
                                   }
                                   return out;
                               })
        .def_property_readonly("name", [](const tagflow::contact& c) { return text_or_none(c.profile.name); })
        .def_property_readonly("phone",
                               [](const tagflow::contact& c) { return text_or_none(c.profile.phone); })
        .def_property_readonly("email",
                               [](const tagflow::contact& c) { return text_or_none(c.profile.email); })
        .def_property_readonly("time_zone",
                               [](const tagflow::contact& c) { return text_or_none(c.profile.time_zone); })
        .def_property_readonly("locale",
                               [](const tagflow::contact& c) { return text_or_none(c.profile.locale); })
        .def_property_readonly("customer_id",
                               [](const tagflow::contact& c) { return text_or_none(c.profile.customer_id); })
        .def_property_readonly("lifecycle",
                               [](const tagflow::contact& c) { return text(tagflow::to_string(c.stage)); })
        .def_property_readonly("fields",
                               [](const tagflow::contact& c) {
                                   py::dict out;
                                   for (const auto& [name, f] : c.fields) {
                                       out[text(name)] = to_py(f.data);
                                   }
                                   return out;
                               })
        .def_property_readonly("field_types",
                               [](const tagflow::contact& c) {
                                   py::dict out;
                                   for (const auto& [name, f] : c.fields) {
                                       out[text(name)] = text(tagflow::to_string(f.type));
                                   }
                                   return out;
                               })
        .def_property_readonly("tags",
                               [](const tagflow::contact& c) {
                                   py::set out;
                                   for (const auto& [name, at] : c.tags) {
                                       out.add(text(name));
                                   }
                                   return out;
                               })
        .def_property_readonly("tag_times",
                               [](const tagflow::contact& c) {
                                   py::dict out;
                                   for (const auto& [name, at] : c.tags) {
                                       out[text(name)] = to_py(at);
                                   }
                                   return out;
                               })
        .def_property_readonly("notes", [](const tagflow::contact& c) { return c.notes; })
        .def_property_readonly("first_seen",
                               [](const tagflow::contact& c) { return to_py(c.activity.first_seen); })
        .def_property_readonly("last_inbound",
                               [](const tagflow::contact& c) { return to_py(c.activity.last_inbound); })
        .def_property_readonly("last_message",
                               [](const tagflow::contact& c) { return to_py(c.activity.last_message); })
        .def_property_readonly("last_order",
                               [](const tagflow::contact& c) { return to_py(c.activity.last_order); })
        .def_property_readonly("conversations",
                               [](const tagflow::contact& c) { return c.activity.conversations; })
        .def_property_readonly("orders", [](const tagflow::contact& c) { return c.activity.orders; })
        .def_property_readonly("total_spent",
                               [](const tagflow::contact& c) { return c.activity.total_spent; })
        .def_property_readonly("returning", [](const tagflow::contact& c) { return c.activity.returning; })
        .def_property_readonly(
            "last_channel", [](const tagflow::contact& c) { return text_or_none(c.activity.last_channel); })
        .def_property_readonly(
            "last_product", [](const tagflow::contact& c) { return text_or_none(c.activity.last_product); })
        .def_property_readonly("fired_rules",
                               [](const tagflow::contact& c) {
                                   py::set out;
                                   for (const auto& r : c.fired_rules) {
                                       out.add(text(r));
                                   }
                                   return out;
                               })
        .def_property_readonly(
            "run", [](const tagflow::contact& c) { return c.run; },
            "The flow the contact is in (a FlowRun), or None.")
        .def_property_readonly(
            "paused", [](const tagflow::contact& c) { return c.paused_until.has_value(); },
            "True while a handoff block has paused automation for the contact.")
        .def_property_readonly(
            "paused_until",
            [](const tagflow::contact& c) {
                if (!c.paused_until || *c.paused_until == time_point::max()) {
                    return py::object(py::none());
                }
                return to_py(*c.paused_until);
            },
            "When a timed handoff ends; None when not paused or paused until resumed.")
        .def_property_readonly(
            "open_form", [](const tagflow::contact& c) { return text_or_none(c.open_form); },
            "'flow/block' of the last form sent and not yet completed, or None.")
        .def_property_readonly(
            "channels", [](const tagflow::contact& c) { return c.channels; },
            "Per channel name: a ChannelState (windows, replies, follower), what channel "
            "policies read.")
        .def_property_readonly(
            "sequences", [](const tagflow::contact& c) { return c.sequences; },
            "Per sequence name: a SequenceState (kept after leaving, for re-entry).")
        .def("has_tag", &tagflow::contact::has_tag, py::arg("tag"),
             "True when the contact carries `tag` (exact).")
        .def(
            "has_identity",
            [](const tagflow::contact& c, const std::string& who) {
                return c.has_identity(tagflow::identity::parse(who));
            },
            py::arg("identity"), "True when 'channel:id' is one of the contact's identities.")
        .def(
            "field", [](const tagflow::contact& c, const std::string& name) { return to_py(c.field(name)); },
            py::arg("name"), "A custom or profile field ('name', 'phone', ...); None when unset.")
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::contact& c) {
            std::string ids;
            for (const auto& i : c.identities) {
                ids += (ids.empty() ? "" : ", ") + quote(i.to_string());
            }
            std::string tags;
            for (const auto& [name, at] : c.tags) {
                tags += (tags.empty() ? "" : ", ") + quote(name);
            }
            return "<Contact " + std::to_string(c.id) + " [" + ids + "] " +
                   std::string(tagflow::to_string(c.stage)) + " tags={" + tags + "}>";
        });

    py::class_<tagflow::ingest_result>(m, "IngestResult", "What ingesting one event did.")
        .def_readonly("event_id", &tagflow::ingest_result::event_id)
        .def_readonly("contact_id", &tagflow::ingest_result::contact)
        .def_readonly("duplicate", &tagflow::ingest_result::duplicate)
        .def_readonly("contact_created", &tagflow::ingest_result::contact_created)
        .def_property_readonly("merged", [](const tagflow::ingest_result& r) { return r.merged; })
        .def_property_readonly("tags_added",
                               [](const tagflow::ingest_result& r) { return strings(r.tags_added); })
        .def_property_readonly("tags_removed",
                               [](const tagflow::ingest_result& r) { return strings(r.tags_removed); })
        .def_property_readonly("lifecycle_now",
                               [](const tagflow::ingest_result& r) {
                                   return r.lifecycle_now
                                              ? py::object(text(tagflow::to_string(*r.lifecycle_now)))
                                              : py::object(py::none());
                               })
        .def_property_readonly("rules_fired",
                               [](const tagflow::ingest_result& r) { return strings(r.rules_fired); })
        .def_property_readonly("messages", [](const tagflow::ingest_result& r) { return r.messages; })
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::ingest_result& r) {
            std::string s = "IngestResult(event_id=" + std::to_string(r.event_id) +
                            ", contact_id=" + std::to_string(r.contact);
            s += std::string(", duplicate=") + (r.duplicate ? "True" : "False");
            s += std::string(", contact_created=") + (r.contact_created ? "True" : "False");
            auto list = [](const std::vector<std::string>& items) {
                std::string out;
                for (const auto& i : items) {
                    out += (out.empty() ? "" : ", ") + quote(i);
                }
                return "[" + out + "]";
            };
            s += ", tags_added=" + list(r.tags_added) + ", tags_removed=" + list(r.tags_removed);
            s += ", rules_fired=" + list(r.rules_fired);
            s += ", messages=" + std::to_string(r.messages.size());
            if (r.lifecycle_now) {
                s += ", lifecycle_now=" + quote(tagflow::to_string(*r.lifecycle_now));
            }
            return s + ")";
        });

    py::class_<tagflow::outbound_message>(m, "OutboundMessage", "A decided outbound message (an outbox row).")
        .def_readonly("id", &tagflow::outbound_message::id)
        .def_property_readonly("key", [](const tagflow::outbound_message& o) { return text(o.key); })
        .def_readonly("contact_id", &tagflow::outbound_message::contact)
        .def_property_readonly("to",
                               [](const tagflow::outbound_message& o) { return text(o.to.to_string()); })
        .def_property_readonly("channel",
                               [](const tagflow::outbound_message& o) { return text(o.to.channel); })
        .def_property_readonly("text", [](const tagflow::outbound_message& o) { return text(o.text); })
        .def_property_readonly("quick_replies",
                               [](const tagflow::outbound_message& o) { return strings(o.quick_replies); })
        .def_property_readonly("buttons", [](const tagflow::outbound_message& o) { return o.buttons; })
        .def_property_readonly(
            "form", [](const tagflow::outbound_message& o) { return text_or_none(o.form); },
            "The form this message asks the contact to fill, or None.")
        .def_property_readonly("purpose", [](const tagflow::outbound_message& o) { return text(o.purpose); })
        .def_property_readonly("created_at",
                               [](const tagflow::outbound_message& o) { return to_py(o.created_at); })
        .def_readonly("cause_event", &tagflow::outbound_message::cause_event)
        .def_property_readonly("cause", [](const tagflow::outbound_message& o) { return text(o.cause); })
        .def_property_readonly(
            "status", [](const tagflow::outbound_message& o) { return text(tagflow::to_string(o.status)); },
            "pending, sent, failed, blocked, deferred, delivered, read, dead_letter or cancelled.")
        .def_property_readonly(
            "not_before", [](const tagflow::outbound_message& o) { return to_py(o.not_before); },
            "Held by a frequency cap or channel policy until then, or None.")
        .def_property_readonly(
            "channel_tag", [](const tagflow::outbound_message& o) { return text_or_none(o.channel_tag); },
            "Platform message tag, e.g. Messenger 'HUMAN_AGENT', or None.")
        .def_readonly("by_human", &tagflow::outbound_message::by_human)
        .def_property_readonly(
            "template_name", [](const tagflow::outbound_message& o) { return text_or_none(o.template_name); },
            "Pre-approved platform template (WhatsApp, Zalo ZBS), or None for free-form text.")
        .def_property_readonly("template_params",
                               [](const tagflow::outbound_message& o) { return strings(o.template_params); })
        .def_readonly("cost", &tagflow::outbound_message::cost,
                      "Price the channel policy expects, in `currency`.")
        .def_property_readonly(
            "currency", [](const tagflow::outbound_message& o) { return text_or_none(o.currency); },
            "Currency of `cost`; None when free.")
        .def_property_readonly(
            "policy_rule", [](const tagflow::outbound_message& o) { return text_or_none(o.policy_rule); },
            "Policy rule that billed, deferred or blocked it, e.g. 'messenger.window_24h'.")
        .def_property_readonly(
            "reason", [](const tagflow::outbound_message& o) { return text_or_none(o.reason); },
            "Why it was blocked or deferred, in words.")
        .def_readonly("attempts", &tagflow::outbound_message::attempts, "Adapter calls made so far.")
        .def_property_readonly(
            "next_attempt", [](const tagflow::outbound_message& o) { return to_py(o.next_attempt); },
            "After a temporary failure: when the dispatcher tries again.")
        .def_property_readonly(
            "external_id", [](const tagflow::outbound_message& o) { return text_or_none(o.external_id); },
            "The platform's id once sent.")
        .def_property_readonly(
            "last_error", [](const tagflow::outbound_message& o) { return text_or_none(o.last_error); },
            "Error of the last failed attempt.")
        .def_property_readonly("sent_at", [](const tagflow::outbound_message& o) { return to_py(o.sent_at); })
        .def_property_readonly("delivered_at",
                               [](const tagflow::outbound_message& o) { return to_py(o.delivered_at); })
        .def_property_readonly("read_at", [](const tagflow::outbound_message& o) { return to_py(o.read_at); })
        .def_property_readonly("clicked_at",
                               [](const tagflow::outbound_message& o) { return to_py(o.clicked_at); })
        .def_property_readonly("waiting", &tagflow::outbound_message::waiting,
                               "True while the dispatcher still has to act on it (pending or deferred).")
        .def_property_readonly(
            "due", [](const tagflow::outbound_message& o) { return to_py(o.due()); },
            "Earliest time the dispatcher may try it.")
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::outbound_message& o) {
            return "<OutboundMessage " + std::to_string(o.id) + " to " + quote(o.to.to_string()) + " " +
                   std::string(tagflow::to_string(o.status)) + ": " + quote(o.text) + ">";
        });

    py::class_<tagflow::event_record>(m, "EventRecord",
                                      "A row of the event log: an input or a derived event.")
        .def_readonly("id", &tagflow::event_record::id)
        .def_readonly("contact_id", &tagflow::event_record::contact)
        .def_property_readonly("kind", [](const tagflow::event_record& r) { return text(r.kind); })
        .def_property_readonly("key", [](const tagflow::event_record& r) { return text_or_none(r.key); })
        .def_property_readonly("at", [](const tagflow::event_record& r) { return to_py(r.at); })
        .def_property_readonly("body", [](const tagflow::event_record& r) { return text(r.body); })
        .def_property_readonly("data",
                               [](const tagflow::event_record& r) {
                                   return r.body.empty() ? py::object(py::dict()) : json_to_py(r.body);
                               })
        .def_readonly("cause", &tagflow::event_record::cause)
        .def_property_readonly("origin", [](const tagflow::event_record& r) { return text(r.origin); })
        .def_property_readonly("outcome",
                               [](const tagflow::event_record& r) {
                                   return r.outcome.empty() ? py::object(py::none()) : json_to_py(r.outcome);
                               })
        .def_readonly("definitions_version", &tagflow::event_record::definitions_version)
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::event_record& r) {
            return "<EventRecord " + std::to_string(r.id) + " " + r.kind +
                   " contact=" + std::to_string(r.contact) + " origin=" + quote(r.origin) + ">";
        });

    py::class_<tagflow::explanation>(m, "Explanation",
                                     "Why a message was sent: the event that started it, the chain of events "
                                     "that led to the decision and every step of that processing.")
        .def_property_readonly("message", [](const tagflow::explanation& x) { return x.message; })
        .def_property_readonly(
            "decided_by", [](const tagflow::explanation& x) { return text(x.decided_by); },
            "'rule:<name>' or 'flow:<flow>/<block>'.")
        .def_property_readonly(
            "chain", [](const tagflow::explanation& x) { return x.chain; },
            "From the root (an input or a timer) to the direct cause.")
        .def_property_readonly(
            "steps", [](const tagflow::explanation& x) { return x.steps; },
            "Everything logged while processing the root, in order.")
        .def_property_readonly("rules_fired",
                               [](const tagflow::explanation& x) { return strings(x.rules_fired); })
        .def("__repr__", [](const tagflow::explanation& x) {
            return "<Explanation message=" + std::to_string(x.message.id) +
                   " decided_by=" + quote(x.decided_by) + " chain=" + std::to_string(x.chain.size()) +
                   " steps=" + std::to_string(x.steps.size()) + ">";
        });

    py::class_<tagflow::block_counter>(
        m, "BlockCounter", "How often a flow block was entered, and how many contacts wait there now.")
        .def_property_readonly("flow", [](const tagflow::block_counter& b) { return text(b.flow); })
        .def_property_readonly("block", [](const tagflow::block_counter& b) { return text(b.block); })
        .def_readonly("entered", &tagflow::block_counter::entered)
        .def_readonly("waiting", &tagflow::block_counter::waiting)
        .def_readonly("completed", &tagflow::block_counter::completed)
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::block_counter& b) {
            return "<BlockCounter " + quote(b.flow + "/" + b.block) +
                   " entered=" + std::to_string(b.entered) + " waiting=" + std::to_string(b.waiting) +
                   " completed=" + std::to_string(b.completed) + ">";
        });

    py::class_<tagflow::run_migration>(m, "RunMigration", "What Engine.migrate_runs() did.")
        .def_readonly("migrated", &tagflow::run_migration::migrated, "Runs moved to the current definitions.")
        .def_property_readonly(
            "left", [](const tagflow::run_migration& r) { return r.left; },
            "Contact ids whose runs stayed on their version (their flow or block is gone).")
        .def("__repr__", [](const tagflow::run_migration& r) {
            return "<RunMigration migrated=" + std::to_string(r.migrated) +
                   " left=" + std::to_string(r.left.size()) + ">";
        });

    py::class_<tagflow::http_request>(
        m, "HttpRequest",
        "An external request a flow's request block wants made. The engine builds "
        "them; build one by hand to try a client.")
        .def(py::init([](py::object url, py::object method, py::object headers, py::object body,
                         py::object timeout, std::int64_t id, tagflow::contact_id contact,
                         py::object created_at, py::object flow, py::object block) {
                 tagflow::http_request r;
                 r.url = text_argument(url, "url");
                 r.method = text_argument(method, "method");
                 r.headers = headers_from_py(headers);
                 r.body = text_argument(body, "body");
                 r.timeout = to_duration(timeout, "timeout");
                 if (r.timeout.count() <= 0) {
                     throw py::value_error("timeout must be positive");
                 }
                 r.id = id;
                 r.contact = contact;
                 if (!created_at.is_none()) {
                     r.created_at = to_time(created_at, "created_at");
                 }
                 r.flow = text_argument(flow, "flow");
                 r.block = text_argument(block, "block");
                 return r;
             }),
             py::arg("url"), py::kw_only(), py::arg("method") = "GET", py::arg("headers") = py::tuple(),
             py::arg("body") = "", py::arg("timeout") = refs().timedelta_type(py::arg("seconds") = 10),
             py::arg("id") = 0, py::arg("contact_id") = 0, py::arg("created_at") = py::none(),
             py::arg("flow") = "", py::arg("block") = "")
        .def_readonly("id", &tagflow::http_request::id)
        .def_readonly("contact_id", &tagflow::http_request::contact)
        .def_property_readonly("method", [](const tagflow::http_request& r) { return text(r.method); })
        .def_property_readonly("url", [](const tagflow::http_request& r) { return text(r.url); })
        .def_property_readonly(
            "headers",
            [](const tagflow::http_request& r) {
                py::list out;
                for (const auto& [name, value] : r.headers) {
                    out.append(py::make_tuple(text(name), text(value)));
                }
                return out;
            },
            "(name, value) pairs, in order.")
        .def_property_readonly("body", [](const tagflow::http_request& r) { return text(r.body); })
        .def_property_readonly(
            "timeout", [](const tagflow::http_request& r) { return to_py(r.timeout); },
            "How long the client may take (a timedelta).")
        .def_property_readonly("created_at",
                               [](const tagflow::http_request& r) { return to_py(r.created_at); })
        .def_property_readonly("flow", [](const tagflow::http_request& r) { return text(r.flow); })
        .def_property_readonly("block", [](const tagflow::http_request& r) { return text(r.block); })
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::http_request& r) {
            return "<HttpRequest " + std::to_string(r.id) + " " + r.method + " " + quote(r.url) + ">";
        });

    py::class_<tagflow::http_response>(
        m, "HttpResponse",
        "What came back: an HTTP status and body, or an `error` (and status 0) "
        "when there was no HTTP answer at all.")
        .def(py::init([](int status, py::object body, py::object error) {
                 tagflow::http_response r;
                 r.status = http_status(status);
                 r.body = text_argument(body, "body");
                 r.error = text_argument(error, "error");
                 return r;
             }),
             py::arg("status") = 0, py::arg("body") = "", py::arg("error") = "")
        .def_property(
            "status", [](const tagflow::http_response& r) { return r.status; },
            [](tagflow::http_response& r, int status) { r.status = http_status(status); })
        .def_property(
            "body", [](const tagflow::http_response& r) { return text(r.body); },
            [](tagflow::http_response& r, py::object body) { r.body = text_argument(body, "body"); })
        .def_property(
            "error", [](const tagflow::http_response& r) { return text(r.error); },
            [](tagflow::http_response& r, py::object error) { r.error = text_argument(error, "error"); })
        .def("__eq__",
             [](const tagflow::http_response& a, py::object other) -> py::object {
                 if (!py::isinstance<tagflow::http_response>(other)) {
                     return py::reinterpret_borrow<py::object>(Py_NotImplemented);
                 }
                 const auto& b = other.cast<const tagflow::http_response&>();
                 return py::bool_(a.status == b.status && a.body == b.body && a.error == b.error);
             })
        .def("__repr__", [](const tagflow::http_response& r) {
            std::string s = "HttpResponse(status=" + std::to_string(r.status);
            if (!r.body.empty()) {
                s += ", body=" + quote(r.body.size() > 60 ? r.body.substr(0, 60) + "..." : r.body);
            }
            if (!r.error.empty()) {
                s += ", error=" + quote(r.error);
            }
            return s + ")";
        });

    py::class_<tagflow::http_client, py_http_client>(
        m, "HttpClient",
        "Makes the HTTP calls of flows' request blocks for Engine.perform_requests(). Subclass it and define "
        "send(self, request) -> HttpResponse (call super().__init__() if you define __init__); an exception "
        "raised by send becomes an error answer. make_http_client() gives the built-in client.")
        .def(py::init<>())
        .def(
            "send",
            [](tagflow::http_client& client, const tagflow::http_request& request) {
                py::gil_scoped_release nogil;
                return client.send(request);
            },
            py::arg("request"), "Performs one request, blocking until it completes or its timeout passes.");

    py::class_<tagflow::simulation_result>(m, "SimulationResult", "What a scenario run found.")
        .def_property_readonly("name", [](const tagflow::simulation_result& r) { return text(r.name); })
        .def_readonly("passed", &tagflow::simulation_result::passed)
        .def_property_readonly("failures",
                               [](const tagflow::simulation_result& r) { return strings(r.failures); })
        .def_property_readonly("transcript",
                               [](const tagflow::simulation_result& r) { return text(r.transcript); })
        .def_readonly("steps", &tagflow::simulation_result::steps)
        .def_readonly("checks", &tagflow::simulation_result::checks)
        .def("__bool__", [](const tagflow::simulation_result& r) { return r.passed; })
        .def("__repr__", [](const tagflow::simulation_result& r) {
            return "<SimulationResult " + quote(r.name) + (r.passed ? " passed" : " FAILED") +
                   " steps=" + std::to_string(r.steps) + " checks=" + std::to_string(r.checks) +
                   " failures=" + std::to_string(r.failures.size()) + ">";
        });

    py::class_<tagflow::expression>(m, "Expression",
                                    "A parsed condition, e.g. 'tag(\"Khách VIP\") and orders >= 2'. Parsing "
                                    "raises ExpressionError with the column of the problem.")
        .def(py::init([](const std::string& source) { return tagflow::expression::parse(source); }),
             py::arg("source"))
        .def_property_readonly("source", [](const tagflow::expression& e) { return text(e.source()); })
        .def_property_readonly("referenced_tags",
                               [](const tagflow::expression& e) { return strings(e.referenced_tags()); })
        .def_property_readonly("referenced_fields",
                               [](const tagflow::expression& e) { return strings(e.referenced_fields()); })
        .def("__repr__",
             [](const tagflow::expression& e) { return "Expression(" + quote(e.source()) + ")"; });

    // ----- Engine
    py::class_<py_engine>(
        m, "Engine",
        "The tagflow engine over a SQLite file (or in memory). Thread-safe; closes with close() "
        "or a `with` block.")
        .def(py::init(&make_engine), py::arg("path") = py::none(), py::kw_only(),
             py::arg("clock") = py::none(),
             py::arg("returning_gap") = refs().timedelta_type(py::arg("hours") = 24),
             py::arg("default_time_zone") = "Asia/Ho_Chi_Minh", py::arg("max_cascade_depth") = 8,
             py::arg("durability") = "full", py::arg("mmap_bytes") = 0)
        .def("close", &py_engine::close, "Closes the store; waits for calls in progress. Idempotent.")
        .def_property_readonly("closed", &py_engine::closed)
        .def("__enter__",
             [](py::object self) {
                 if (self.cast<py_engine&>().closed()) {
                     throw py::value_error("operation on a closed tagflow.Engine");
                 }
                 return self;
             })
        .def("__exit__",
             [](py_engine& self, py::object, py::object, py::object) {
                 self.close();
                 return false;
             })
        .def_property_readonly("path", &py_engine::path, "The SQLite file, or None in memory.")
        .def_property_readonly("clock", &py_engine::clock, "The clock given to the constructor, or None.")
        .def_property_readonly("returning_gap",
                               [](const py_engine& e) { return to_py(e.options().returning_gap); })
        .def_property_readonly("default_time_zone",
                               [](const py_engine& e) { return text(e.options().default_time_zone); })
        .def_property_readonly("max_cascade_depth",
                               [](const py_engine& e) { return e.options().max_cascade_depth; })
        .def_property_readonly(
            "now",
            [](const py_engine& self) { return to_py(self.run([](tagflow::engine& e) { return e.now(); })); },
            "The engine clock's current time (aware, UTC).")
        .def(
            "load_definitions",
            [](const py_engine& self, py::object doc) {
                auto source = document_from_py(doc, "definitions");
                return self.run([&](tagflow::engine& e) {
                    std::unique_lock lock(self.definitions_mutex());
                    if (source.file) {
                        return e.load_definitions(tagflow::definitions::load_file(*source.file));
                    }
                    return e.load_definitions(source.json);
                });
            },
            py::arg("doc"),
            "Loads a definitions document (a dict, a JSON string or a path) and returns the version in "
            "force.")
        .def_property_readonly("definitions_version",
                               [](const py_engine& self) {
                                   return self.run(
                                       [](tagflow::engine& e) { return e.definitions_version(); });
                               })
        .def_property_readonly(
            "definitions",
            [](const py_engine& self) {
                auto source = self.run([&](tagflow::engine& e) {
                    std::shared_lock lock(self.definitions_mutex());
                    return e.current_definitions().source();
                });
                return json_to_py(source);
            },
            "The definitions document in force, as a dict.")
        .def(
            "ingest",
            [](const py_engine& self, py::object event) {
                const auto e = event_from_py(event, "");
                return self.run([&](tagflow::engine& en) { return en.ingest(e); });
            },
            py::arg("event"), "Validates and processes one event dict in one transaction.")
        .def(
            "ingest_batch",
            [](const py_engine& self, py::iterable events) {
                std::vector<tagflow::event> batch;
                std::size_t i = 0;
                for (auto item : events) {
                    batch.push_back(event_from_py(item, "[" + std::to_string(i++) + "]."));
                }
                // Handed over, not copied: the batch is built for this call only.
                return self.run([&](tagflow::engine& en) { return en.ingest_batch(std::move(batch)); });
            },
            py::arg("events"), "Processes event dicts in order and commits them in one transaction.")
        .def(
            "find_contact",
            [](const py_engine& self, const std::string& who) {
                const auto id = tagflow::identity::parse(who);
                return self.run([&](tagflow::engine& e) { return e.find_contact(id); });
            },
            py::arg("identity"), "The contact owning 'channel:id', or None.")
        .def(
            "get_contact",
            [](const py_engine& self, tagflow::contact_id id) {
                return self.run([&](tagflow::engine& e) { return e.get_contact(id); });
            },
            py::arg("contact_id"), "A contact by id; raises NotFoundError when unknown.")
        .def(
            "contacts",
            [](const py_engine& self, tagflow::contact_id after_id, std::optional<std::size_t> limit) {
                return self.run([&](tagflow::engine& e) {
                    if (limit) {
                        return e.contacts(after_id, *limit);
                    }
                    if (after_id == 0) {
                        return e.contacts();
                    }
                    std::vector<tagflow::contact> out;
                    for (auto page = e.contacts(after_id, 1000); !page.empty();
                         page = e.contacts(out.back().id, 1000)) {
                        out.insert(out.end(), page.begin(), page.end());
                    }
                    return out;
                });
            },
            py::arg("after_id") = 0, py::arg("limit") = py::none(),
            "Contacts with id > after_id, ascending; at most limit of them (a page) when given.")
        .def(
            "segment_members",
            [](const py_engine& self, const std::string& segment, tagflow::contact_id after_id,
               std::size_t limit) {
                return self.run(
                    [&](tagflow::engine& e) { return e.segment_members(segment, after_id, limit); });
            },
            py::arg("segment"), py::arg("after_id") = 0, py::arg("limit") = 1000,
            "Ids of contacts in the named segment with id > after_id, ascending, at most limit.")
        .def(
            "outbox",
            [](const py_engine& self, std::int64_t after_id) {
                return self.run([&](tagflow::engine& e) { return e.outbox(after_id); });
            },
            py::arg("after_id") = 0, "Outbox rows with id > after_id, ascending.")
        .def(
            "event_log",
            [](const py_engine& self, std::int64_t after_id) {
                return self.run([&](tagflow::engine& e) { return e.event_log(after_id); });
            },
            py::arg("after_id") = 0, "Event log rows with id > after_id, ascending.")
        .def(
            "input_events",
            [](const py_engine& self) {
                auto events = self.run([](tagflow::engine& e) {
                    std::vector<std::string> out;
                    for (const auto& ev : e.input_events()) {
                        out.push_back(tagflow::to_json(ev));
                    }
                    return out;
                });
                py::list out;
                for (const auto& ev : events) {
                    out.append(json_to_py(ev));
                }
                return out;
            },
            "The external events ingested so far, as event dicts; replaying them rebuilds the state.")
        .def(
            "contact_json",
            [](const py_engine& self, tagflow::contact_id id) {
                return json_to_py(self.run([&](tagflow::engine& e) { return e.contact_json(id); }));
            },
            py::arg("contact_id"), "One contact as a JSON-shaped dict.")
        .def(
            "export_json",
            [](const py_engine& self) {
                return text(self.run([](tagflow::engine& e) { return e.export_json(); }));
            },
            "Every contact and outbox row as deterministic JSON text.")
        .def(
            "advance_to",
            [](const py_engine& self, py::object until) {
                const auto t = to_time(until, "until");
                return self.run([&](tagflow::engine& e) { return e.advance_to(t); });
            },
            py::arg("until"),
            "Fires every timer (flow delays and timeouts) due at or before `until`, an aware datetime or ISO "
            "8601 string, each in its own transaction; returns how many fired.")
        .def_property_readonly(
            "next_timer",
            [](const py_engine& self) {
                return to_py(self.run([](tagflow::engine& e) { return e.next_timer(); }));
            },
            "When the next timer is due (aware, UTC), or None.")
        .def(
            "perform_requests",
            [](const py_engine& self, tagflow::http_client& client, std::size_t limit) {
                std::optional<py::error_already_set> interrupt;
                std::size_t made = 0;
                {
                    interrupt_slot slot(interrupt);
                    made = self.run([&](tagflow::engine& e) { return e.perform_requests(client, limit); });
                }
                if (interrupt) {
                    throw *interrupt; // a KeyboardInterrupt or SystemExit raised in a Python send()
                }
                return made;
            },
            py::arg("client"), py::arg("limit") = 100,
            "Makes up to `limit` pending requests of flows' request blocks through `client` (an HttpClient) "
            "and "
            "ingests each answer; returns how many were made.")
        .def(
            "due_messages",
            [](const py_engine& self, py::object until, std::size_t limit) {
                std::optional<time_point> t;
                if (!until.is_none()) {
                    t = to_time(until, "until");
                }
                return self.run(
                    [&](tagflow::engine& e) { return e.due_messages(t.value_or(e.now()), limit); });
            },
            py::arg("until") = py::none(), py::arg("limit") = 100,
            "Outbox rows a Dispatcher must act on (pending or deferred) due at or before `until` (the engine "
            "clock "
            "when None), by (due, id), at most `limit`.")
        .def_property_readonly(
            "next_message_due",
            [](const py_engine& self) {
                return to_py(self.run([](tagflow::engine& e) { return e.next_message_due(); }));
            },
            "When the earliest waiting outbox row is due (aware, UTC), or None.")
        .def(
            "check_policy",
            [](const py_engine& self, const tagflow::outbound_message& message, py::object at) {
                std::optional<time_point> t;
                if (!at.is_none()) {
                    t = to_time(at, "at");
                }
                return self.run(
                    [&](tagflow::engine& e) { return e.check_policy(message, t.value_or(e.now())); });
            },
            py::arg("message"), py::arg("at") = py::none(),
            "Checks an outbox message against its channel's policy at `at` (the engine clock when None) with "
            "the "
            "contact's current state, as the dispatcher does just before sending; returns a PolicyDecision.")
        .def(
            "explain",
            [](const py_engine& self, std::int64_t message_id) {
                return self.run([&](tagflow::engine& e) { return e.explain(message_id); });
            },
            py::arg("message_id"), "Why outbox message `message_id` was sent; NotFoundError when unknown.")
        .def(
            "block_counters",
            [](const py_engine& self) {
                return self.run([](tagflow::engine& e) { return e.block_counters(); });
            },
            "Counters per flow block, ordered by flow then block.")
        .def(
            "migrate_runs",
            [](const py_engine& self) {
                return self.run([](tagflow::engine& e) { return e.migrate_runs(); });
            },
            "Moves runs in progress to the current definitions where their flow and block still exist.")
        .def("__repr__", [](const py_engine& self) {
            std::string where =
                self.path().is_none() ? std::string("memory") : quote(self.path().cast<std::string>());
            return "<tagflow.Engine " + where + (self.closed() ? " closed>" : ">");
        });

    // ----- Channels, dispatch and policy
    py::class_<tagflow::channel_capabilities>(m, "ChannelCapabilities",
                                              "What a channel can show. Content beyond it is degraded, never "
                                              "dropped: buttons and quick replies become "
                                              "numbered text, long text is split.")
        .def(py::init([](std::size_t max_text, std::size_t max_buttons, std::size_t max_quick_replies,
                         std::size_t max_button_title, bool media, bool templates) {
                 return tagflow::channel_capabilities{max_text,         max_buttons, max_quick_replies,
                                                      max_button_title, media,       templates};
             }),
             py::kw_only(), py::arg("max_text") = 2000, py::arg("max_buttons") = 0,
             py::arg("max_quick_replies") = 0, py::arg("max_button_title") = 20, py::arg("media") = false,
             py::arg("templates") = false)
        .def_readwrite("max_text", &tagflow::channel_capabilities::max_text,
                       "Longest text part, in code points (0: no limit).")
        .def_readwrite("max_buttons", &tagflow::channel_capabilities::max_buttons,
                       "Buttons per message; 0: none (numbered text instead).")
        .def_readwrite("max_quick_replies", &tagflow::channel_capabilities::max_quick_replies,
                       "Quick replies per message; 0: none.")
        .def_readwrite("max_button_title", &tagflow::channel_capabilities::max_button_title,
                       "Longest button / quick-reply title; longer ones are cut.")
        .def_readwrite("media", &tagflow::channel_capabilities::media)
        .def_readwrite("templates", &tagflow::channel_capabilities::templates)
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::channel_capabilities& c) {
            return "ChannelCapabilities(max_text=" + std::to_string(c.max_text) +
                   ", max_buttons=" + std::to_string(c.max_buttons) +
                   ", max_quick_replies=" + std::to_string(c.max_quick_replies) +
                   ", max_button_title=" + std::to_string(c.max_button_title) +
                   ", media=" + (c.media ? "True" : "False") +
                   ", templates=" + (c.templates ? "True" : "False") + ")";
        });

    py::class_<tagflow::rendered_message>(
        m, "RenderedMessage",
        "A message shaped for one channel by degrade(): text parts that fit, and "
        "the buttons and quick replies it can carry (with the last part).")
        .def_property_readonly("parts", [](const tagflow::rendered_message& r) { return strings(r.parts); })
        .def_property_readonly("buttons", [](const tagflow::rendered_message& r) { return r.buttons; })
        .def_property_readonly("quick_replies",
                               [](const tagflow::rendered_message& r) { return strings(r.quick_replies); })
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::rendered_message& r) {
            return "<RenderedMessage parts=" + std::to_string(r.parts.size()) +
                   " buttons=" + std::to_string(r.buttons.size()) +
                   " quick_replies=" + std::to_string(r.quick_replies.size()) + ">";
        });

    py::enum_<tagflow::send_result::outcome>(m, "Outcome", "How one send attempt ended.")
        .value("sent", tagflow::send_result::outcome::sent, "Accepted; external_id is the platform's id.")
        .value("retry", tagflow::send_result::outcome::retry, "Temporary failure: try again later.")
        .value("failed", tagflow::send_result::outcome::failed, "Permanent failure for this message.")
        .value("blocked", tagflow::send_result::outcome::blocked, "The platform refused it by policy.");

    py::class_<tagflow::send_result>(
        m, "SendResult",
        "What a Channel.send returns: sent with the platform's id, or a failure. Build "
        "with SendResult.ok(external_id) or SendResult.fail(outcome, code, detail).")
        .def(py::init([](py::object outcome, py::object external_id, py::object error_code, py::object detail,
                         py::object retry_after, int requests) {
                 tagflow::send_result r;
                 r.result = outcome_from_py(outcome);
                 r.external_id = text_argument(external_id, "external_id");
                 r.error_code = text_argument(error_code, "error_code");
                 r.detail = text_argument(detail, "detail");
                 r.retry_after = retry_after_from_py(retry_after);
                 r.requests = requests;
                 return r;
             }),
             py::arg("outcome") = tagflow::send_result::outcome::sent, py::kw_only(),
             py::arg("external_id") = "", py::arg("error_code") = "", py::arg("detail") = "",
             py::arg("retry_after") = py::none(), py::arg("requests") = 0)
        .def_static(
            "ok",
            [](py::object external_id) {
                return tagflow::send_result::ok(text_argument(external_id, "external_id"));
            },
            py::arg("external_id"), "Accepted by the platform, which knows it as `external_id`.")
        .def_static(
            "fail",
            [](py::object outcome, py::object code, py::object detail, py::object retry_after) {
                const auto kind = outcome_from_py(outcome);
                if (kind == tagflow::send_result::outcome::sent) {
                    throw py::value_error(
                        "SendResult.fail needs retry, failed or blocked; use SendResult.ok for sent");
                }
                auto r = tagflow::send_result::fail(kind, text_argument(code, "code"),
                                                    text_argument(detail, "detail"));
                r.retry_after = retry_after_from_py(retry_after);
                return r;
            },
            py::arg("outcome"), py::arg("code") = "", py::arg("detail") = "", py::kw_only(),
            py::arg("retry_after") = py::none(),
            "A failure: Outcome.retry (temporary; `retry_after` is the platform's own wait), failed or "
            "blocked.")
        .def_readwrite("outcome", &tagflow::send_result::result)
        .def_property(
            "external_id", [](const tagflow::send_result& r) { return text(r.external_id); },
            [](tagflow::send_result& r, py::object v) { r.external_id = text_argument(v, "external_id"); })
        .def_property(
            "error_code", [](const tagflow::send_result& r) { return text(r.error_code); },
            [](tagflow::send_result& r, py::object v) { r.error_code = text_argument(v, "error_code"); },
            "The platform's error, e.g. '-230' or '429'.")
        .def_property(
            "detail", [](const tagflow::send_result& r) { return text(r.detail); },
            [](tagflow::send_result& r, py::object v) { r.detail = text_argument(v, "detail"); })
        .def_property(
            "retry_after",
            [](const tagflow::send_result& r) {
                return r.retry_after ? to_py(*r.retry_after) : py::object(py::none());
            },
            [](tagflow::send_result& r, py::object v) { r.retry_after = retry_after_from_py(v); },
            "The platform's own wait before a retry (a timedelta), or None.")
        .def_readwrite("requests", &tagflow::send_result::requests,
                       "HTTP requests made (parts of a split message).")
        .def("__eq__",
             [](const tagflow::send_result& a, py::object other) -> py::object {
                 if (!py::isinstance<tagflow::send_result>(other)) {
                     return py::reinterpret_borrow<py::object>(Py_NotImplemented);
                 }
                 const auto& b = other.cast<const tagflow::send_result&>();
                 return py::bool_(a.result == b.result && a.external_id == b.external_id &&
                                  a.error_code == b.error_code && a.detail == b.detail &&
                                  a.retry_after == b.retry_after && a.requests == b.requests);
             })
        .def("__repr__", [](const tagflow::send_result& r) {
            if (r.result == tagflow::send_result::outcome::sent) {
                return "SendResult.ok(" + quote(r.external_id) + ")";
            }
            return "SendResult.fail(Outcome." + std::string(tagflow::to_string(r.result)) + ", " +
                   quote(r.error_code) + ", " + quote(r.detail) + ")";
        });

    py::class_<tagflow::channel, py_channel, std::shared_ptr<tagflow::channel>>(
        m, "Channel",
        "A channel adapter: delivers outbox messages to one platform for a Dispatcher. Subclass it, call "
        "super().__init__(name=..., capabilities=..., default_policy=...) (or define those as attributes) "
        "and "
        "define send(self, message, recipient) -> SendResult. An exception raised by send counts as a "
        "temporary "
        "failure (a retry).")
        .def(py::init([](std::string name, py::object caps, std::string default_policy) {
                 tagflow::channel_capabilities c;
                 if (!caps.is_none()) {
                     if (!py::isinstance<tagflow::channel_capabilities>(caps)) {
                         throw py::type_error("capabilities must be a tagflow.ChannelCapabilities, not " +
                                              type_name(caps));
                     }
                     c = caps.cast<tagflow::channel_capabilities>();
                 }
                 return new py_channel(std::move(name), c, std::move(default_policy));
             }),
             py::arg("name") = "", py::arg("capabilities") = py::none(), py::arg("default_policy") = "")
        .def_property_readonly(
            "name",
            [](const tagflow::channel& c) {
                const auto* p = dynamic_cast<const py_channel*>(&c);
                return text(p ? std::string_view(p->given_name()) : c.name());
            },
            "The channel name identities use, e.g. 'zalo'.")
        .def_property_readonly(
            "capabilities",
            [](const tagflow::channel& c) {
                const auto* p = dynamic_cast<const py_channel*>(&c);
                return p ? p->given_capabilities() : c.capabilities();
            },
            "What the channel can show (a ChannelCapabilities).")
        .def_property_readonly(
            "default_policy",
            [](const tagflow::channel& c) {
                const auto* p = dynamic_cast<const py_channel*>(&c);
                return text(p ? std::string_view(p->given_policy()) : c.default_policy());
            },
            "The policy profile the channel follows unless the definitions name another; '' for none.")
        .def(
            "send",
            [](tagflow::channel& c, const tagflow::outbound_message& message,
               const tagflow::contact& recipient) -> tagflow::send_result {
                if (dynamic_cast<py_channel*>(&c)) {
                    // Reached only through super().send() or a subclass without send().
                    PyErr_SetString(
                        PyExc_NotImplementedError,
                        "tagflow.Channel.send is abstract: define send(self, message, recipient)");
                    throw py::error_already_set();
                }
                py::gil_scoped_release nogil;
                return c.send(message, recipient);
            },
            py::arg("message"), py::arg("recipient"),
            "Delivers one message to `recipient` (a Contact); blocking; returns a SendResult.")
        .def("__repr__", [](const tagflow::channel& c) {
            const auto* p = dynamic_cast<const py_channel*>(&c);
            return "<tagflow.Channel " + quote(p ? std::string_view(p->given_name()) : c.name()) + ">";
        });

    py::class_<tagflow::dispatch_report>(m, "DispatchReport", "What one Dispatcher.dispatch_due() call did.")
        .def_readonly("sent", &tagflow::dispatch_report::sent, "Accepted by the channel.")
        .def_readonly("retried", &tagflow::dispatch_report::retried, "Temporary failures, scheduled again.")
        .def_readonly("failed", &tagflow::dispatch_report::failed, "Permanent failures.")
        .def_readonly("dead_lettered", &tagflow::dispatch_report::dead_lettered,
                      "Given up after max_attempts.")
        .def_readonly("blocked", &tagflow::dispatch_report::blocked,
                      "Refused by policy at dispatch, or by the platform's policy.")
        .def_readonly("deferred", &tagflow::dispatch_report::deferred, "Held by policy until later.")
        .def_readonly("unroutable", &tagflow::dispatch_report::unroutable,
                      "No adapter for the channel: recorded as failed.")
        .def_property_readonly("total", &tagflow::dispatch_report::total, "Rows acted on.")
        .def("__repr__", [](const tagflow::dispatch_report& r) {
            return "DispatchReport(sent=" + std::to_string(r.sent) +
                   ", retried=" + std::to_string(r.retried) + ", failed=" + std::to_string(r.failed) +
                   ", dead_lettered=" + std::to_string(r.dead_lettered) +
                   ", blocked=" + std::to_string(r.blocked) + ", deferred=" + std::to_string(r.deferred) +
                   ", unroutable=" + std::to_string(r.unroutable) + ")";
        });

    py::class_<py_dispatcher>(
        m, "Dispatcher",
        "Delivers due outbox rows of an Engine through Channel adapters and records each "
        "result as a delivery_update event. Thread-safe; dispatch_due() runs without the GIL.")
        .def(py::init([](py::object engine, int max_attempts, py::object base_backoff, py::object max_backoff,
                         std::uint64_t jitter_seed, std::size_t batch, bool sleep) {
                 if (!py::isinstance<py_engine>(engine)) {
                     throw py::type_error("engine must be a tagflow.Engine, not " + type_name(engine));
                 }
                 if (batch < 1) {
                     throw tagflow::error(tagflow::errc::invalid_argument, "batch must be at least 1");
                 }
                 dispatcher_settings s;
                 s.options.max_attempts = max_attempts;
                 s.options.base_backoff = to_duration(base_backoff, "base_backoff");
                 s.options.max_backoff = to_duration(max_backoff, "max_backoff");
                 s.options.jitter_seed = jitter_seed;
                 s.options.batch = batch;
                 s.sleep = sleep;
                 return std::make_unique<py_dispatcher>(std::move(engine), std::move(s));
             }),
             py::arg("engine"), py::kw_only(), py::arg("max_attempts") = 6,
             py::arg("base_backoff") = refs().timedelta_type(py::arg("seconds") = 30),
             py::arg("max_backoff") = refs().timedelta_type(py::arg("hours") = 1), py::arg("jitter_seed") = 0,
             py::arg("batch") = 100, py::arg("sleep") = true)
        .def_property_readonly("engine", &py_dispatcher::engine)
        .def_property_readonly("max_attempts",
                               [](const py_dispatcher& d) { return d.settings().options.max_attempts; })
        .def_property_readonly(
            "base_backoff", [](const py_dispatcher& d) { return to_py(d.settings().options.base_backoff); })
        .def_property_readonly("max_backoff",
                               [](const py_dispatcher& d) { return to_py(d.settings().options.max_backoff); })
        .def_property_readonly("jitter_seed",
                               [](const py_dispatcher& d) { return d.settings().options.jitter_seed; })
        .def_property_readonly("batch", [](const py_dispatcher& d) { return d.settings().options.batch; })
        .def_property_readonly(
            "sleep", [](const py_dispatcher& d) { return d.settings().sleep; },
            "False: rate-limit waits are skipped (simulations).")
        .def(
            "add_channel",
            [](py_dispatcher& self, py::object adapter) {
                if (!py::isinstance<tagflow::channel>(adapter)) {
                    throw py::type_error("add_channel needs a tagflow.Channel, not " + type_name(adapter));
                }
                if (auto* p = dynamic_cast<py_channel*>(&adapter.cast<tagflow::channel&>())) {
                    if (py::reinterpret_borrow<py::function>(py::getattr(adapter, "send"))
                            .is_cpp_function()) {
                        throw py::type_error(
                            type_name(adapter) +
                            " does not define send(self, message, recipient); a Channel subclass "
                            "must");
                    }
                    p->attach(adapter);
                }
                refuse_reentry("Dispatcher.add_channel", &self);
                auto kept = keep_alive(adapter);
                self.run([&](tagflow::dispatcher& d) { d.add_channel(std::move(kept)); });
            },
            py::arg("channel"),
            "Routes messages for channel.name through `channel`, replacing any earlier one.")
        .def(
            "find_channel",
            [](py_dispatcher& self, const std::string& name) {
                refuse_reentry("Dispatcher.find_channel", &self);
                return self.run([&](tagflow::dispatcher& d) { return d.find_channel(name); });
            },
            py::arg("name"), "The adapter for a channel name, or None.")
        .def(
            "dispatch_due",
            [](py_dispatcher& self, py::object now) {
                refuse_reentry("Dispatcher.dispatch_due");
                std::optional<time_point> at;
                if (!now.is_none()) {
                    at = to_time(now, "now");
                }
                std::optional<py::error_already_set> interrupt;
                tagflow::dispatch_report report;
                {
                    interrupt_slot slot(interrupt);
                    dispatch_scope scope(self);
                    report = self.run([&](tagflow::dispatcher& d) { return d.dispatch_due(at); });
                }
                if (interrupt) {
                    throw *interrupt; // a KeyboardInterrupt or SystemExit raised in a Python send()
                }
                return report;
            },
            py::arg("now") = py::none(),
            "Delivers every row due at `now` (an aware datetime or ISO 8601 string; the engine clock when "
            "None): "
            "checks the channel policy again, calls the adapter, records the result. Releases the GIL.")
        .def(
            "next_due",
            [](py_dispatcher& self) {
                return to_py(self.run([](tagflow::dispatcher& d) { return d.next_due(); }));
            },
            "When the earliest waiting row is due (aware, UTC), or None.")
        .def(
            "retry_delay",
            [](const py_dispatcher& self, const std::string& key, int attempt) {
                return to_py(tagflow::retry_delay(self.settings().options, key, attempt));
            },
            py::arg("key"), py::arg("attempt"),
            "The wait after `attempt` temporary failures of the message keyed `key`, with this dispatcher's "
            "backoff "
            "and jitter seed.")
        .def("__repr__", [](const py_dispatcher& d) {
            return "<tagflow.Dispatcher max_attempts=" + std::to_string(d.settings().options.max_attempts) +
                   ">";
        });

    py::enum_<tagflow::delivery_status>(m, "DeliveryStatus",
                                        "What a delivery_update event reports about an outbox message.")
        .value("sent", tagflow::delivery_status::sent)
        .value("retry", tagflow::delivery_status::retry)
        .value("failed", tagflow::delivery_status::failed)
        .value("dead_letter", tagflow::delivery_status::dead_letter)
        .value("blocked", tagflow::delivery_status::blocked)
        .value("deferred", tagflow::delivery_status::deferred)
        .value("delivered", tagflow::delivery_status::delivered)
        .value("read", tagflow::delivery_status::read)
        .value("clicked", tagflow::delivery_status::clicked)
        .value("cancelled", tagflow::delivery_status::cancelled);

    py::class_<tagflow::policy_decision>(m, "PolicyDecision", "What a channel policy says about one send.")
        .def_property_readonly(
            "outcome", [](const tagflow::policy_decision& d) { return text(tagflow::to_string(d.outcome)); },
            "'allow', 'defer' or 'block'.")
        .def_readonly("cost", &tagflow::policy_decision::cost, "allow: the expected price.")
        .def_property_readonly(
            "currency", [](const tagflow::policy_decision& d) { return text_or_none(d.currency); },
            "allow: the currency of cost; None when free.")
        .def_property_readonly(
            "until", [](const tagflow::policy_decision& d) { return to_py(d.until); },
            "defer: when it may go.")
        .def_property_readonly(
            "rule", [](const tagflow::policy_decision& d) { return text_or_none(d.rule); },
            "The deciding rule's id (for a cost, the billing rule).")
        .def_property_readonly(
            "reason", [](const tagflow::policy_decision& d) { return text_or_none(d.reason); },
            "block/defer: why, in words.")
        .def_property_readonly(
            "text_prefix", [](const tagflow::policy_decision& d) { return text_or_none(d.text_prefix); },
            "A label to put before the text, e.g. '[QC] '.")
        .def_readonly("needs_unsubscribe", &tagflow::policy_decision::needs_unsubscribe)
        .def("__repr__", [](const tagflow::policy_decision& d) {
            std::string s = "<PolicyDecision " + std::string(tagflow::to_string(d.outcome));
            if (!d.rule.empty()) {
                s += " rule=" + quote(d.rule);
            }
            if (d.cost != 0) {
                s += " cost=" + std::string(py::repr(py::float_(d.cost))) + " " + d.currency;
            }
            return s + ">";
        });

    // ----- Functions
    m.def(
        "simulate",
        [](py::object scenario, py::object base_dir, py::object db) {
            return simulate(scenario, base_dir, db);
        },
        py::arg("scenario"), py::kw_only(), py::arg("base_dir") = py::none(), py::arg("db") = py::none(),
        "Runs a scenario (a dict, a JSON string or a path) and returns its result.");
    m.def(
        "check_definitions",
        [](py::object doc) {
            auto source = document_from_py(doc, "definitions");
            std::string canonical;
            {
                py::gil_scoped_release nogil;
                canonical = (source.file ? tagflow::definitions::load_file(*source.file)
                                         : tagflow::definitions::parse(source.json))
                                .source();
            }
            return json_to_py(canonical);
        },
        py::arg("doc"), "Validates a definitions document without an engine; returns it as a dict.");
    m.def(
        "normalize_phone",
        [](const std::string& input, const std::string& default_country) {
            return text(tagflow::normalize_phone(input, default_country));
        },
        py::arg("phone"), py::arg("default_country") = "VN", "A phone number in E.164, e.g. '+84912345678'.");
    m.def("is_valid_phone", &tagflow::is_valid_phone, py::arg("phone"), py::arg("default_country") = "VN");
    m.def(
        "normalize_email", [](const std::string& input) { return text(tagflow::normalize_email(input)); },
        py::arg("email"), "An e-mail address trimmed and lower-cased, after a shape check.");
    m.def("is_valid_email", &tagflow::is_valid_email, py::arg("email"));
    m.def(
        "fold", [](const std::string& input) { return text(tagflow::fold(input)); }, py::arg("text"),
        "Text folded for matching: case folded, diacritics removed, whitespace collapsed.");
    m.def(
        "parse_time", [](const std::string& input) { return to_py(tagflow::parse_time(input)); },
        py::arg("text"), "An ISO 8601 time with a zone as an aware UTC datetime.");
    m.def(
        "format_time", [](py::object at) { return text(tagflow::format_time(to_time(at, "at"))); },
        py::arg("at"),
        "An aware datetime as tagflow writes times: ISO 8601 UTC, milliseconds when not zero.");
    m.def("is_valid_time_zone", &tagflow::is_valid_time_zone, py::arg("zone"));
    m.def(
        "degrade",
        [](const tagflow::outbound_message& message, const tagflow::channel_capabilities& capabilities) {
            return tagflow::degrade(message, capabilities);
        },
        py::arg("message"), py::arg("capabilities"),
        "Shapes an outbox message for a channel: buttons and quick replies beyond its capabilities become "
        "numbered "
        "lines, long text is split into parts. Returns a RenderedMessage.");
    m.def(
        "builtin_policy_names", [] { return strings(tagflow::builtin_policy_names()); },
        "Names of the built-in channel policy profiles, sorted (e.g. 'messenger', 'zalo-2026').");
    m.def(
        "evaluate_policy",
        [](py::object profile, py::object at, std::string purpose, const tagflow::channel_state* state,
           std::string time_zone, std::string channel_tag, bool by_human, bool is_template,
           bool at_dispatch) {
            tagflow::policy_profile parsed;
            const tagflow::policy_profile* chosen = nullptr;
            if (PyUnicode_Check(profile.ptr())) {
                const std::string name = utf8_of(profile);
                chosen = tagflow::builtin_policy(name);
                if (!chosen) {
                    throw tagflow::error(tagflow::errc::not_found,
                                         "no built-in policy profile \"" + name + "\"");
                }
            } else if (is_mapping(profile)) {
                parsed = tagflow::parse_policy_profile(
                    json::serialize(to_json(profile, "$", json_target::document)), "custom");
                chosen = &parsed;
            } else {
                throw py::type_error("profile must be a built-in profile name or a dict, not " +
                                     type_name(profile));
            }
            tagflow::send_context context;
            context.now = to_time(at, "at");
            context.purpose = std::move(purpose);
            context.state = state;
            context.zone = std::move(time_zone);
            context.channel_tag = std::move(channel_tag);
            context.by_human = by_human;
            context.is_template = is_template;
            context.at_dispatch = at_dispatch;
            py::gil_scoped_release nogil;
            return tagflow::evaluate(*chosen, context);
        },
        py::arg("profile"), py::kw_only(), py::arg("at"), py::arg("purpose") = "reply",
        py::arg("state") = static_cast<const tagflow::channel_state*>(nullptr),
        py::arg("time_zone") = "Asia/Ho_Chi_Minh", py::arg("channel_tag") = "", py::arg("by_human") = false,
        py::arg("template") = false, py::arg("at_dispatch") = false,
        "Evaluates a channel policy profile (a built-in name, or a profile dict) for one send described by "
        "the "
        "arguments; `state` is the contact's ChannelState (None: never seen on the channel).");
    m.def(
        "make_http_client", [] { return tagflow::make_http_client(); },
        "The built-in HttpClient: plain http:// on Boost.Beast, honouring each request's timeout (https:// "
        "URLs get an error answer). Thread-safe.");
}
