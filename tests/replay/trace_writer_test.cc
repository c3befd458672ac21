// The freestanding encoder: JSON it writes parses back to what was given.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "replay/record/trace_events.h"
#include "replay/record/trace_writer.h"

namespace vnet::trace {
namespace {

struct Sink {
  std::string text;
  size_t calls = 0;
  static void write(void* c, const char* d, size_t n) {
    auto* s = static_cast<Sink*>(c);
    s->text.append(d, n);
    ++s->calls;
  }
};

TEST(TraceWriter, NestedObjectsArraysAndEscapes) {
  Sink sink;
  TraceWriter w(ByteSink{Sink::write, &sink});
  w.begin("test");
  w.u64("big", UINT64_MAX);
  w.str("msg", "quote\" backslash\\ newline\n tab\t bell\x07 high\xC3\xA9");
  w.hex64("mask", 0x100018028ull);
  w.hex64("zero", 0);
  w.begin_array("list");
  w.elem_u64(1);
  w.begin_object();
  w.boolean("t", true);
  w.null("n");
  w.end_object();
  w.elem_u64(3);
  w.end_array();
  w.hex("bytes", "\x00\x01\xAB\xFF", 4);
  w.end();
  w.flush();
  ASSERT_EQ(sink.text.back(), '\n');
  EXPECT_EQ(sink.text.find('\n'), sink.text.size() - 1) << "one line, newlines escaped";
  auto j = nlohmann::json::parse(sink.text);
  EXPECT_EQ(j["ev"], "test");
  EXPECT_EQ(j["big"].get<uint64_t>(), UINT64_MAX);
  EXPECT_EQ(j["msg"], "quote\" backslash\\ newline\n tab\t bell\x07 high\u00c3\u00a9");
  EXPECT_EQ(j["mask"], "0x100018028");
  EXPECT_EQ(j["zero"], "0x0");
  EXPECT_NE(sink.text.find(R"("list":[1,{"t":true,"n":null},3])"), std::string::npos) << sink.text;
  EXPECT_EQ(j["bytes"], "0001abff");
  EXPECT_EQ(w.events(), 1u);
}

TEST(TraceWriter, FieldsLongerThanTheBufferStreamThrough) {
  Sink sink;
  TraceWriter w(ByteSink{Sink::write, &sink});
  std::vector<uint8_t> frame(3 * TraceWriter::kBufferSize + 7);
  for (size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<uint8_t>(i * 13);
  write_frame(w, 0, 5, frame.data(), static_cast<uint32_t>(frame.size()));
  w.flush();
  EXPECT_GT(sink.calls, 2u);
  auto j = nlohmann::json::parse(sink.text);
  const std::string hex = j["data"];
  ASSERT_EQ(hex.size(), 2 * frame.size());
  for (size_t i = 0; i < frame.size(); ++i)
    ASSERT_EQ(std::stoul(hex.substr(2 * i, 2), nullptr, 16), frame[i]) << "byte " << i;
}

TEST(TraceWriter, RegisterWriteNamesAddressesSymbolically) {
  Sink sink;
  TraceWriter w(ByteSink{Sink::write, &sink});
  AddrRef a{3, 256, AddrForm::kHi32};
  write_reg_write(w, Region::kBar4, 0x24, 4, 0, &a);
  write_reg_write(w, Region::kBar0, 0x12, 1, 7, nullptr);
  w.flush();
  const auto nl = sink.text.find('\n');
  auto first = nlohmann::json::parse(sink.text.substr(0, nl));
  auto second = nlohmann::json::parse(sink.text.substr(nl + 1));
  EXPECT_NE(sink.text.find(R"("val":{"dma":3,"off":256,"as":"hi32"})"), std::string::npos);
  EXPECT_EQ(first["val"]["dma"], 3);
  EXPECT_EQ(first["region"], "bar4");
  EXPECT_EQ(second["val"], 7);
}

// Compaction (format version 2): identical register events in a row are
// held and written once with "rep"; any other line, a different access,
// and flush() write what is held first.
TEST(TraceWriter, CompactionWritesRepeatsOnceWithACount) {
  Sink sink;
  TraceWriter w(ByteSink{&Sink::write, &sink});
  w.set_compact(true);
  EXPECT_EQ(w.format_version(), 2u);
  for (int i = 0; i < 5; ++i) write_reg_read(w, Region::kBar0, 0x13, 1, 0);
  EXPECT_EQ(w.events(), 1u);                     // held, counted as its one line
  write_reg_read(w, Region::kBar0, 0x13, 1, 1);  // another value
  write_reg_write(w, Region::kBar0, 0x10, 2, 0, nullptr);
  write_reg_write(w, Region::kBar0, 0x10, 2, 0, nullptr);
  write_now(w, 7);  // another kind of line
  write_reg_read(w, Region::kBar0, 0x13, 1, 0);
  write_end(w);
  w.flush();
  EXPECT_EQ(sink.text,
            "{\"ev\":\"reg_read\",\"region\":\"bar0\",\"off\":19,\"w\":1,\"val\":0,\"rep\":5}\n"
            "{\"ev\":\"reg_read\",\"region\":\"bar0\",\"off\":19,\"w\":1,\"val\":1}\n"
            "{\"ev\":\"reg_write\",\"region\":\"bar0\",\"off\":16,\"w\":2,\"val\":0,\"rep\":2}\n"
            "{\"ev\":\"now\",\"val\":7}\n"
            "{\"ev\":\"reg_read\",\"region\":\"bar0\",\"off\":19,\"w\":1,\"val\":0}\n"
            "{\"ev\":\"end\",\"events\":5}\n");
  EXPECT_TRUE(w.repeats_written());

  Sink plain;
  TraceWriter p(ByteSink{&Sink::write, &plain});
  EXPECT_EQ(p.format_version(), 1u);
  for (int i = 0; i < 3; ++i) write_reg_read(p, Region::kBar0, 0x13, 1, 0);
  p.flush();
  EXPECT_EQ(p.events(), 3u);
  EXPECT_EQ(plain.text.find("rep"), std::string::npos);
}

TEST(TraceNames, EveryNameParsesBackToItsValue) {
  for (uint8_t k = 0; k < kNumEventKinds; ++k) {
    const char* n = event_name(static_cast<EventKind>(k));
    EventKind back;
    ASSERT_TRUE(parse_event(n, std::char_traits<char>::length(n), &back)) << n;
    EXPECT_EQ(static_cast<uint8_t>(back), k);
  }
  for (uint8_t f = 0; f < kNumApiFns; ++f) {
    const char* n = api_fn_name(static_cast<ApiFn>(f));
    ApiFn back;
    ASSERT_TRUE(parse_api_fn(n, std::char_traits<char>::length(n), &back)) << n;
    EXPECT_EQ(static_cast<uint8_t>(back), f);
  }
  Region r;
  EXPECT_FALSE(parse_region("bar", 3, &r));
  EXPECT_FALSE(parse_region("bar00", 5, &r));
  EXPECT_TRUE(parse_region("bar0", 4, &r));
  EXPECT_EQ(r, Region::kBar0);
}

}  // namespace
}  // namespace vnet::trace
