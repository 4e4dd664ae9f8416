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

py::object text_or_none(const std::string& s) { return s.empty() ? py::object(py::none()) : py::object(text(s)); }

// An engine-assigned id where 0 means "none".
py::object optional_id(std::int64_t id) { return id == 0 ? py::object(py::none()) : py::object(py::int_(id)); }

std::string type_name(py::handle obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }

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
        case tagflow::errc::not_found: raise_as(refs().not_found_error, e); break;
        case tagflow::errc::store_failure:
        case tagflow::errc::schema_mismatch: raise_as(refs().store_error, e); break;
        default: raise_as(refs().error, e); break;
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
                                hms.seconds().count(), hms.subseconds().count() * 1000, py::arg("tzinfo") = refs().utc);
}

py::object to_py(const std::optional<time_point>& t) { return t ? to_py(*t) : py::object(py::none()); }

py::object to_py(tagflow::duration d) { return refs().timedelta_type(py::arg("milliseconds") = d.count()); }

bool is_datetime(py::handle obj) { return py::isinstance(obj, refs().datetime_type); }

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

constexpr const char* naive_message = "a naive datetime has no time zone; give it a tzinfo (e.g. datetime.timezone.utc)";

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
    throw py::type_error(std::string(what) + " must be a timezone-aware datetime or an ISO 8601 string, not " +
                         type_name(obj));
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

bool is_mapping(py::handle obj) { return PyDict_Check(obj.ptr()) || py::isinstance(obj, refs().mapping_type); }

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
        throw py::type_error((prefix.empty() ? std::string("an event") : "event " + prefix.substr(0, prefix.size() - 1)) +
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

py::object json_to_py(const std::string& s) { return refs().json_loads(text(s)); }

// A definitions document or scenario given as a dict, a JSON string or a path.
struct document_source {
    std::string json;                  ///< The document, when given inline.
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
    throw py::type_error(std::string(what) + " must be a dict, a JSON string or a path, not " + type_name(doc));
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
                response.error = "HttpClient.send returned a " + type_name(result) + ", not a tagflow.HttpResponse";
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
            throw py::type_error("headers must be a mapping or (name, value) pairs, not a sequence holding a " +
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
                                       std::string default_time_zone, int max_cascade_depth, std::string durability) {
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
            throw py::type_error("clock must be a tagflow.VirtualClock, a callable returning an aware datetime, "
                                 "or None, not " + type_name(clock));
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

std::string quote(std::string_view s) { return py::repr(text(s)).cast<std::string>(); }

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
            throw tagflow::error(tagflow::errc::not_found, "cannot read scenario file " + source.file->string());
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
        r.expression_error = make_exception_type(
            m, "ExpressionError",
            "An expression failed to parse. `column` is 1-based and counts code points.", r.error, {"column"});
        r.store_error = make_exception_type(
            m, "StoreError", "The store failed (I/O, corruption) or was written by a newer tagflow.", r.error, {});
        r.not_found_error = make_exception_type(m, "NotFoundError",
                                                "A contact, file or record does not exist.", r.error, {});
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
        .def("now", [](const virtual_clock& c) { return to_py(c.now()); }, "The clock's time (aware, UTC).")
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
            "set", [](virtual_clock& c, py::object at) { c.ms = to_time(at, "at").time_since_epoch().count(); },
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
        .def_property_readonly("waiting", [](const tagflow::flow_run& r) { return text_or_none(r.waiting); },
                               "What the run waits for ('reply', 'form', 'timer', 'until', 'request', "
                               "'handoff'), or None.")
        .def_readonly("retries", &tagflow::flow_run::retries)
        .def_property_readonly("timer", [](const tagflow::flow_run& r) { return optional_id(r.timer); },
                               "The pending timer's id, or None.")
        .def_property_readonly("request", [](const tagflow::flow_run& r) { return optional_id(r.request); },
                               "The pending external request's id, or None.")
        .def_readonly("definitions_version", &tagflow::flow_run::definitions_version)
        .def_property_readonly("stack",
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
                   (r.waiting.empty() ? std::string() : " waiting=" + quote(r.waiting)) +
                   " v" + std::to_string(r.definitions_version) + ">";
        });

    py::class_<tagflow::button>(m, "Button", "A button on an outbound message: a title and its postback payload.")
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
        .def_property_readonly("phone", [](const tagflow::contact& c) { return text_or_none(c.profile.phone); })
        .def_property_readonly("email", [](const tagflow::contact& c) { return text_or_none(c.profile.email); })
        .def_property_readonly("time_zone",
                               [](const tagflow::contact& c) { return text_or_none(c.profile.time_zone); })
        .def_property_readonly("locale", [](const tagflow::contact& c) { return text_or_none(c.profile.locale); })
        .def_property_readonly("customer_id",
                               [](const tagflow::contact& c) { return text_or_none(c.profile.customer_id); })
        .def_property_readonly("lifecycle", [](const tagflow::contact& c) { return text(tagflow::to_string(c.stage)); })
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
        .def_property_readonly("first_seen", [](const tagflow::contact& c) { return to_py(c.activity.first_seen); })
        .def_property_readonly("last_inbound",
                               [](const tagflow::contact& c) { return to_py(c.activity.last_inbound); })
        .def_property_readonly("last_message",
                               [](const tagflow::contact& c) { return to_py(c.activity.last_message); })
        .def_property_readonly("last_order", [](const tagflow::contact& c) { return to_py(c.activity.last_order); })
        .def_property_readonly("conversations", [](const tagflow::contact& c) { return c.activity.conversations; })
        .def_property_readonly("orders", [](const tagflow::contact& c) { return c.activity.orders; })
        .def_property_readonly("total_spent", [](const tagflow::contact& c) { return c.activity.total_spent; })
        .def_property_readonly("returning", [](const tagflow::contact& c) { return c.activity.returning; })
        .def_property_readonly("last_channel",
                               [](const tagflow::contact& c) { return text_or_none(c.activity.last_channel); })
        .def_property_readonly("last_product",
                               [](const tagflow::contact& c) { return text_or_none(c.activity.last_product); })
        .def_property_readonly("fired_rules",
                               [](const tagflow::contact& c) {
                                   py::set out;
                                   for (const auto& r : c.fired_rules) {
                                       out.add(text(r));
                                   }
                                   return out;
                               })
        .def_property_readonly("run", [](const tagflow::contact& c) { return c.run; },
                               "The flow the contact is in (a FlowRun), or None.")
        .def_property_readonly("paused", [](const tagflow::contact& c) { return c.paused_until.has_value(); },
                               "True while a handoff block has paused automation for the contact.")
        .def_property_readonly("paused_until",
                               [](const tagflow::contact& c) {
                                   if (!c.paused_until || *c.paused_until == time_point::max()) {
                                       return py::object(py::none());
                                   }
                                   return to_py(*c.paused_until);
                               },
                               "When a timed handoff ends; None when not paused or paused until resumed.")
        .def_property_readonly("open_form", [](const tagflow::contact& c) { return text_or_none(c.open_form); },
                               "'flow/block' of the last form sent and not yet completed, or None.")
        .def("has_tag", &tagflow::contact::has_tag, py::arg("tag"), "True when the contact carries `tag` (exact).")
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
            return "<Contact " + std::to_string(c.id) + " [" + ids + "] " + std::string(tagflow::to_string(c.stage)) +
                   " tags={" + tags + "}>";
        });

    py::class_<tagflow::ingest_result>(m, "IngestResult", "What ingesting one event did.")
        .def_readonly("event_id", &tagflow::ingest_result::event_id)
        .def_readonly("contact_id", &tagflow::ingest_result::contact)
        .def_readonly("duplicate", &tagflow::ingest_result::duplicate)
        .def_readonly("contact_created", &tagflow::ingest_result::contact_created)
        .def_property_readonly("merged", [](const tagflow::ingest_result& r) { return r.merged; })
        .def_property_readonly("tags_added", [](const tagflow::ingest_result& r) { return strings(r.tags_added); })
        .def_property_readonly("tags_removed", [](const tagflow::ingest_result& r) { return strings(r.tags_removed); })
        .def_property_readonly("lifecycle_now",
                               [](const tagflow::ingest_result& r) {
                                   return r.lifecycle_now ? py::object(text(tagflow::to_string(*r.lifecycle_now)))
                                                          : py::object(py::none());
                               })
        .def_property_readonly("rules_fired", [](const tagflow::ingest_result& r) { return strings(r.rules_fired); })
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
        .def_property_readonly("to", [](const tagflow::outbound_message& o) { return text(o.to.to_string()); })
        .def_property_readonly("channel", [](const tagflow::outbound_message& o) { return text(o.to.channel); })
        .def_property_readonly("text", [](const tagflow::outbound_message& o) { return text(o.text); })
        .def_property_readonly("quick_replies",
                               [](const tagflow::outbound_message& o) { return strings(o.quick_replies); })
        .def_property_readonly("buttons", [](const tagflow::outbound_message& o) { return o.buttons; })
        .def_property_readonly("form", [](const tagflow::outbound_message& o) { return text_or_none(o.form); },
                               "The form this message asks the contact to fill, or None.")
        .def_property_readonly("purpose", [](const tagflow::outbound_message& o) { return text(o.purpose); })
        .def_property_readonly("created_at", [](const tagflow::outbound_message& o) { return to_py(o.created_at); })
        .def_readonly("cause_event", &tagflow::outbound_message::cause_event)
        .def_property_readonly("cause", [](const tagflow::outbound_message& o) { return text(o.cause); })
        .def_property_readonly("status", [](const tagflow::outbound_message& o) { return text(tagflow::to_string(o.status)); })
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::outbound_message& o) {
            return "<OutboundMessage " + std::to_string(o.id) + " to " + quote(o.to.to_string()) + ": " + quote(o.text) +
                   ">";
        });

    py::class_<tagflow::event_record>(m, "EventRecord", "A row of the event log: an input or a derived event.")
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
            return "<EventRecord " + std::to_string(r.id) + " " + r.kind + " contact=" + std::to_string(r.contact) +
                   " origin=" + quote(r.origin) + ">";
        });

    py::class_<tagflow::explanation>(m, "Explanation",
                                     "Why a message was sent: the event that started it, the chain of events "
                                     "that led to the decision and every step of that processing.")
        .def_property_readonly("message", [](const tagflow::explanation& x) { return x.message; })
        .def_property_readonly("decided_by", [](const tagflow::explanation& x) { return text(x.decided_by); },
                               "'rule:<name>' or 'flow:<flow>/<block>'.")
        .def_property_readonly("chain", [](const tagflow::explanation& x) { return x.chain; },
                               "From the root (an input or a timer) to the direct cause.")
        .def_property_readonly("steps", [](const tagflow::explanation& x) { return x.steps; },
                               "Everything logged while processing the root, in order.")
        .def_property_readonly("rules_fired", [](const tagflow::explanation& x) { return strings(x.rules_fired); })
        .def("__repr__", [](const tagflow::explanation& x) {
            return "<Explanation message=" + std::to_string(x.message.id) + " decided_by=" + quote(x.decided_by) +
                   " chain=" + std::to_string(x.chain.size()) + " steps=" + std::to_string(x.steps.size()) + ">";
        });

    py::class_<tagflow::block_counter>(m, "BlockCounter",
                                       "How often a flow block was entered, and how many contacts wait there now.")
        .def_property_readonly("flow", [](const tagflow::block_counter& b) { return text(b.flow); })
        .def_property_readonly("block", [](const tagflow::block_counter& b) { return text(b.block); })
        .def_readonly("entered", &tagflow::block_counter::entered)
        .def_readonly("waiting", &tagflow::block_counter::waiting)
        .def_readonly("completed", &tagflow::block_counter::completed)
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::block_counter& b) {
            return "<BlockCounter " + quote(b.flow + "/" + b.block) + " entered=" + std::to_string(b.entered) +
                   " waiting=" + std::to_string(b.waiting) + " completed=" + std::to_string(b.completed) + ">";
        });

    py::class_<tagflow::run_migration>(m, "RunMigration", "What Engine.migrate_runs() did.")
        .def_readonly("migrated", &tagflow::run_migration::migrated, "Runs moved to the current definitions.")
        .def_property_readonly("left", [](const tagflow::run_migration& r) { return r.left; },
                               "Contact ids whose runs stayed on their version (their flow or block is gone).")
        .def("__repr__", [](const tagflow::run_migration& r) {
            return "<RunMigration migrated=" + std::to_string(r.migrated) + " left=" + std::to_string(r.left.size()) +
                   ">";
        });

    py::class_<tagflow::http_request>(m, "HttpRequest",
                                      "An external request a flow's request block wants made. The engine builds "
                                      "them; build one by hand to try a client.")
        .def(py::init([](py::object url, py::object method, py::object headers, py::object body, py::object timeout,
                         std::int64_t id, tagflow::contact_id contact, py::object created_at, py::object flow,
                         py::object block) {
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
             py::arg("id") = 0, py::arg("contact_id") = 0, py::arg("created_at") = py::none(), py::arg("flow") = "",
             py::arg("block") = "")
        .def_readonly("id", &tagflow::http_request::id)
        .def_readonly("contact_id", &tagflow::http_request::contact)
        .def_property_readonly("method", [](const tagflow::http_request& r) { return text(r.method); })
        .def_property_readonly("url", [](const tagflow::http_request& r) { return text(r.url); })
        .def_property_readonly("headers",
                               [](const tagflow::http_request& r) {
                                   py::list out;
                                   for (const auto& [name, value] : r.headers) {
                                       out.append(py::make_tuple(text(name), text(value)));
                                   }
                                   return out;
                               },
                               "(name, value) pairs, in order.")
        .def_property_readonly("body", [](const tagflow::http_request& r) { return text(r.body); })
        .def_property_readonly("timeout", [](const tagflow::http_request& r) { return to_py(r.timeout); },
                               "How long the client may take (a timedelta).")
        .def_property_readonly("created_at", [](const tagflow::http_request& r) { return to_py(r.created_at); })
        .def_property_readonly("flow", [](const tagflow::http_request& r) { return text(r.flow); })
        .def_property_readonly("block", [](const tagflow::http_request& r) { return text(r.block); })
        .def(py::self == py::self)
        .def("__repr__", [](const tagflow::http_request& r) {
            return "<HttpRequest " + std::to_string(r.id) + " " + r.method + " " + quote(r.url) + ">";
        });

    py::class_<tagflow::http_response>(m, "HttpResponse",
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
        .def_property_readonly("failures", [](const tagflow::simulation_result& r) { return strings(r.failures); })
        .def_property_readonly("transcript", [](const tagflow::simulation_result& r) { return text(r.transcript); })
        .def_readonly("steps", &tagflow::simulation_result::steps)
        .def_readonly("checks", &tagflow::simulation_result::checks)
        .def("__bool__", [](const tagflow::simulation_result& r) { return r.passed; })
        .def("__repr__", [](const tagflow::simulation_result& r) {
            return "<SimulationResult " + quote(r.name) + (r.passed ? " passed" : " FAILED") + " steps=" +
                   std::to_string(r.steps) + " checks=" + std::to_string(r.checks) +
                   " failures=" + std::to_string(r.failures.size()) + ">";
        });

    py::class_<tagflow::expression>(m, "Expression",
                                    "A parsed condition, e.g. 'tag(\"Khách VIP\") and orders >= 2'. Parsing "
                                    "raises ExpressionError with the column of the problem.")
        .def(py::init([](const std::string& source) { return tagflow::expression::parse(source); }), py::arg("source"))
        .def_property_readonly("source", [](const tagflow::expression& e) { return text(e.source()); })
        .def_property_readonly("referenced_tags", [](const tagflow::expression& e) { return strings(e.referenced_tags()); })
        .def_property_readonly("referenced_fields",
                               [](const tagflow::expression& e) { return strings(e.referenced_fields()); })
        .def("__repr__", [](const tagflow::expression& e) { return "Expression(" + quote(e.source()) + ")"; });

    // ----- Engine
    py::class_<py_engine>(m, "Engine",
                          "The tagflow engine over a SQLite file (or in memory). Thread-safe; closes with close() "
                          "or a `with` block.")
        .def(py::init(&make_engine), py::arg("path") = py::none(), py::kw_only(), py::arg("clock") = py::none(),
             py::arg("returning_gap") = refs().timedelta_type(py::arg("hours") = 24),
             py::arg("default_time_zone") = "Asia/Ho_Chi_Minh", py::arg("max_cascade_depth") = 8,
             py::arg("durability") = "full")
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
        .def_property_readonly("returning_gap", [](const py_engine& e) { return to_py(e.options().returning_gap); })
        .def_property_readonly("default_time_zone", [](const py_engine& e) { return text(e.options().default_time_zone); })
        .def_property_readonly("max_cascade_depth", [](const py_engine& e) { return e.options().max_cascade_depth; })
        .def_property_readonly(
            "now", [](const py_engine& self) { return to_py(self.run([](tagflow::engine& e) { return e.now(); })); },
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
            "Loads a definitions document (a dict, a JSON string or a path) and returns the version in force.")
        .def_property_readonly("definitions_version",
                               [](const py_engine& self) {
                                   return self.run([](tagflow::engine& e) { return e.definitions_version(); });
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
                return self.run([&](tagflow::engine& en) { return en.ingest_batch(batch); });
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
        .def("contacts",
             [](const py_engine& self) { return self.run([](tagflow::engine& e) { return e.contacts(); }); },
             "Every contact, ascending by id.")
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
            [](const py_engine& self) { return to_py(self.run([](tagflow::engine& e) { return e.next_timer(); })); },
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
            "Makes up to `limit` pending requests of flows' request blocks through `client` (an HttpClient) and "
            "ingests each answer; returns how many were made.")
        .def(
            "explain",
            [](const py_engine& self, std::int64_t message_id) {
                return self.run([&](tagflow::engine& e) { return e.explain(message_id); });
            },
            py::arg("message_id"), "Why outbox message `message_id` was sent; NotFoundError when unknown.")
        .def("block_counters",
             [](const py_engine& self) { return self.run([](tagflow::engine& e) { return e.block_counters(); }); },
             "Counters per flow block, ordered by flow then block.")
        .def("migrate_runs",
             [](const py_engine& self) { return self.run([](tagflow::engine& e) { return e.migrate_runs(); }); },
             "Moves runs in progress to the current definitions where their flow and block still exist.")
        .def("__repr__", [](const py_engine& self) {
            std::string where = self.path().is_none() ? std::string("memory") : quote(self.path().cast<std::string>());
            return "<tagflow.Engine " + where + (self.closed() ? " closed>" : ">");
        });

    // ----- Functions
    m.def(
        "simulate",
        [](py::object scenario, py::object base_dir, py::object db) { return simulate(scenario, base_dir, db); },
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
        "parse_time", [](const std::string& input) { return to_py(tagflow::parse_time(input)); }, py::arg("text"),
        "An ISO 8601 time with a zone as an aware UTC datetime.");
    m.def(
        "format_time", [](py::object at) { return text(tagflow::format_time(to_time(at, "at"))); }, py::arg("at"),
        "An aware datetime as tagflow writes times: ISO 8601 UTC, milliseconds when not zero.");
    m.def("is_valid_time_zone", &tagflow::is_valid_time_zone, py::arg("zone"));
    m.def(
        "make_http_client", [] { return tagflow::make_http_client(); },
        "The built-in HttpClient: plain http:// on Boost.Beast, honouring each request's timeout (https:// "
        "URLs get an error answer). Thread-safe.");
}
