#pragma once
/// \file tagflow.hpp
/// Umbrella header: everything a program embedding tagflow needs.

#include <tagflow/analytics.hpp>
#include <tagflow/broadcast.hpp>
#include <tagflow/channel.hpp>
#include <tagflow/channels.hpp>
#include <tagflow/contact.hpp>
#include <tagflow/definitions.hpp>
#include <tagflow/dispatcher.hpp>
#include <tagflow/engine.hpp>
#include <tagflow/error.hpp>
#include <tagflow/event.hpp>
#include <tagflow/expression.hpp>
#include <tagflow/flow.hpp>
#include <tagflow/graph.hpp>
#include <tagflow/http.hpp>
#include <tagflow/lint.hpp>
#include <tagflow/local_time.hpp>
#include <tagflow/memory_store.hpp>
#include <tagflow/outbox.hpp>
#include <tagflow/phone.hpp>
#include <tagflow/policy.hpp>
#include <tagflow/runtime.hpp>
#include <tagflow/sequence.hpp>
#include <tagflow/simulator.hpp>
#include <tagflow/sqlite_store.hpp>
#include <tagflow/store.hpp>
#include <tagflow/text.hpp>
#include <tagflow/time.hpp>
#include <tagflow/value.hpp>
#include <tagflow/version.hpp>
#include <tagflow/webhook.hpp>
