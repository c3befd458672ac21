// The trace2json command: exit statuses, messages, gzip input.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <sstream>
#include <string>

namespace {

struct RunResult {
  int status;
  std::string out;  // stdout + stderr
};

RunResult run(const std::string& args) {
  std::string cmd = std::string(TRACE2JSON_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  RunResult r{-1, ""};
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string temp_path(const std::string& name) {
  return testing::TempDir() + "t2j_" + std::to_string(getpid()) + "_" + name;
}

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A minimal modern NIC: enable, status reset, one register read.
const char* const kLog =
    "1@1700000000.000001:memory_region_ops_write cpu 0 mr 0x1 addr 0xcfc value 0xfebf800c size 4 "
    "name 'pci-conf-data'\n"
    "1@1700000000.000002:pci_cfg_write virtio-net-pci 00:03.0 @0x20 <- 0xfebf800c\n"
    "1@1700000000.000003:memory_region_ops_write cpu 0 mr 0x1 addr 0xcfc value 0x107 size 2 "
    "name 'pci-conf-data'\n"
    "1@1700000000.000004:pci_cfg_write virtio-net-pci 00:03.0 @0x4 <- 0x107\n"
    "1@1700000000.000005:memory_region_ops_write cpu 0 mr 0x2 addr 0xfebf8014 value 0x0 size 1 "
    "name 'virtio-pci-common-virtio-net'\n"
    "1@1700000000.000006:virtio_set_status vdev 0xd0 val 0\n"
    "1@1700000000.000007:memory_region_ops_read cpu 0 mr 0x2 addr 0xfebf8014 value 0x0 size 1 "
    "name 'virtio-pci-common-virtio-net'\n";

TEST(Tool, ConvertsAndWritesAValidTrace) {
  const std::string log = temp_path("a.log"), out = temp_path("a.jsonl");
  write(log, kLog);
  RunResult r = run(log + " -o " + out);
  ASSERT_EQ(r.status, 0) << r.out;
  std::string t = read(out);
  EXPECT_EQ(t.rfind("{\"format\":\"vnetkit-trace\",\"version\":1,", 0), 0u) << t;
  EXPECT_NE(t.find("\"by\":\"trace2json\""), std::string::npos);
  EXPECT_NE(t.find("{\"ev\":\"mark\",\"what\":\"driver_start\"}"), std::string::npos);
  // the end line counts every event line
  size_t lines = 0;
  for (char c : t) lines += c == '\n';
  EXPECT_NE(t.find("{\"ev\":\"end\",\"events\":" + std::to_string(lines - 2) + "}\n"),
            std::string::npos)
      << t;
  EXPECT_NE(r.out.find("lines/s"), std::string::npos);
  EXPECT_NE(access((out + ".events.tmp").c_str(), F_OK), 0);  // temp file gone
}

TEST(Tool, CompactByDefaultPlainOnRequest) {
  const std::string log = temp_path("k.log"), out = temp_path("k.jsonl");
  std::string text = kLog;
  for (int i = 0; i < 5; ++i)
    text +=
        "1@1700000000.000009:memory_region_ops_read cpu 0 mr 0x2 addr 0xfebf8014 value 0x0 "
        "size 1 name 'virtio-pci-common-virtio-net'\n";
  write(log, text);
  ASSERT_EQ(run(log + " -q -o " + out).status, 0);
  std::string t = read(out);
  EXPECT_EQ(t.rfind("{\"format\":\"vnetkit-trace\",\"version\":2,", 0), 0u) << t;
  EXPECT_NE(t.find("\"val\":0,\"rep\":6}"), std::string::npos) << t;
  ASSERT_EQ(run(log + " -q --no-compact -o " + out).status, 0);
  t = read(out);
  EXPECT_EQ(t.rfind("{\"format\":\"vnetkit-trace\",\"version\":1,", 0), 0u) << t;
  EXPECT_EQ(t.find("\"rep\""), std::string::npos) << t;
}

TEST(Tool, GzipInputGivesTheSameTrace) {
  const std::string log = temp_path("b.log"), gz = temp_path("b.log.gz");
  write(log, kLog);
  gzFile g = gzopen(gz.c_str(), "wb");
  ASSERT_NE(g, nullptr);
  gzwrite(g, kLog, static_cast<unsigned>(strlen(kLog)));
  gzclose(g);
  ASSERT_EQ(run(log + " -q -o " + log + ".jsonl").status, 0);
  ASSERT_EQ(run(gz + " -q -o " + gz + ".jsonl").status, 0);
  std::string a = read(log + ".jsonl"), b = read(gz + ".jsonl");
  // identical but for the log's name in the header
  auto replace_all = [](std::string s, const std::string& from) {
    for (size_t at; (at = s.find(from)) != std::string::npos;) s.replace(at, from.size(), "X");
    return s;
  };
  EXPECT_EQ(replace_all(a, "b.log"), replace_all(b, "b.log.gz"));
}

TEST(Tool, ForeignInputIsExit2WithAPreciseMessage) {
  const std::string log = temp_path("c.txt");
  write(log, "{\"format\":\"vnetkit-trace\",\"version\":1}\n{\"ev\":\"end\",\"events\":0}\n");
  RunResult r = run(log);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("not a QEMU trace log"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line 1"), std::string::npos) << r.out;
}

TEST(Tool, EmptyMissingAndBinaryInputsAreExit2) {
  const std::string empty = temp_path("d.log");
  write(empty, "");
  EXPECT_EQ(run(empty).status, 2);
  EXPECT_EQ(run(temp_path("does-not-exist.log")).status, 2);
  const std::string bin = temp_path("e.bin");
  write(bin, std::string("\x7f"
                         "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0",
                         16));
  EXPECT_EQ(run(bin).status, 2);
  EXPECT_EQ(run("").status, 2);  // no LOG
}

TEST(Tool, QemuLogWithoutTheNicIsExit1) {
  const std::string log = temp_path("f.log");
  write(log,
        "9@1700000000.000001:memory_region_ops_write cpu 0 mr 0x1 addr 0x3f8 value 0x41 size 1 "
        "name 'serial'\n"
        "9@1700000000.000002:pci_cfg_read mch 00:00.0 @0x0 -> 0x8086\n");
  RunResult r = run(log);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("no virtio-net-pci device events"), std::string::npos) << r.out;
}

// Issue 11: a log in which nothing of the NIC could be attributed (here
// its configuration space, and register accesses in no BAR the log
// placed) converted to a trace of config reads and exited 0.
const char* const kConfigOnlyLog =
    "1@1700000000.000001:pci_cfg_read virtio-net-pci 00:03.0 @0x0 -> 0x1af4\n"
    "1@1700000000.000002:memory_region_ops_read cpu 0 mr 0x1 addr 0xcfc value 0x1af4 size 2 "
    "name 'pci-conf-data'\n"
    "1@1700000000.000003:memory_region_ops_write cpu 0 mr 0x1 addr 0xcfc value 0x103 size 2 "
    "name 'pci-conf-data'\n"
    "1@1700000000.000004:pci_cfg_write virtio-net-pci 00:03.0 @0x4 <- 0x103\n"
    "1@1700000000.000005:memory_region_ops_read cpu 0 mr 0x2 addr 0xc000 value 0x79bf8064 "
    "size 4 name 'virtio-pci'\n";

TEST(Tool, NothingOfTheNicIsExit1UnlessAccepted) {
  const std::string log = temp_path("i.log"), out = temp_path("i.jsonl");
  write(log, kConfigOnlyLog);
  RunResult r = run(log + " -o " + out);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("nothing of the NIC was found: 2 accesses to the configuration space of "
                       "00:03.0, but no register access in its BARs and no virtqueue event"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("no trace written"), std::string::npos) << r.out;
  EXPECT_NE(access(out.c_str(), F_OK), 0);
  RunResult accepted = run(log + " --accept-incomplete -o " + out);
  EXPECT_EQ(accepted.status, 0) << accepted.out;
  EXPECT_NE(accepted.out.find("nothing of the NIC was found"), std::string::npos) << accepted.out;
  EXPECT_EQ(access(out.c_str(), F_OK), 0);
}

TEST(Tool, UnattributedPopsAndFillsAreExit1WithCounts) {
  const std::string log = temp_path("j.log"), out = temp_path("j.jsonl");
  std::string text = kLog;
  // The NIC's device (its vdev is known from the status write) but a
  // queue never kicked: a tx-shaped pop cannot be attributed; a fill of
  // a known queue's element that was never popped closes nothing.
  text += "1@1700000000.000008:virtio_queue_notify vdev 0xd0 n 1 vq 0xa8\n";
  text += "1@1700000000.000009:virtqueue_pop vq 0xb0 elem 0x1 in_num 0 out_num 1\n";
  text += "1@1700000000.000010:virtqueue_fill vq 0xa8 elem 0x5 len 0 idx 0\n";
  write(log, text);
  RunResult r = run(log + " -o " + out);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("incomplete conversion: 1 pops of no known queue, 1 fills that close no "
                       "pop, 0 pops/fills without a pcap frame"),
            std::string::npos)
      << r.out;
  RunResult accepted = run(log + " --accept-incomplete -q -o " + out);
  EXPECT_EQ(accepted.status, 0) << accepted.out;
  EXPECT_NE(read(out).find("\"unattributed_pops\":1"), std::string::npos);
}

// A packed-ring capture (RING_PACKED written to the driver features)
// whose log lost the first fill of a batch: exit 1, the gap named.
TEST(Tool, PackedFillGapIsExit1WithAClearMessage) {
  const std::string log = temp_path("p.log"), out = temp_path("p.jsonl");
  std::string text = kLog;
  text +=
      "1@1700000000.000008:memory_region_ops_write cpu 0 mr 0x2 addr 0xfebf8008 value 0x1 size 4 "
      "name 'virtio-pci-common-virtio-net'\n"
      "1@1700000000.000009:memory_region_ops_write cpu 0 mr 0x2 addr 0xfebf800c value 0x5 size 4 "
      "name 'virtio-pci-common-virtio-net'\n";
  text += "1@1700000000.000010:virtio_queue_notify vdev 0xd0 n 0 vq 0xa0\n";
  text += "1@1700000000.000011:virtqueue_pop vq 0xa0 elem 0x1 in_num 1 out_num 0\n";
  text += "1@1700000000.000012:virtqueue_pop vq 0xa0 elem 0x2 in_num 1 out_num 0\n";
  text += "1@1700000000.000013:virtqueue_fill vq 0xa0 elem 0x2 len 60 idx 1\n";
  write(log, text);
  RunResult r = run(log + " -o " + out);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("1 packed-ring fills whose batch index does not continue their batch"),
            std::string::npos)
      << r.out;
  RunResult accepted = run(log + " --accept-incomplete -q -o " + out);
  EXPECT_EQ(accepted.status, 0) << accepted.out;
  EXPECT_NE(read(out).find("\"packed_fill_gaps\":1"), std::string::npos);
}

TEST(Tool, TruncatedAndMalformedLinesAreReportedNotFatal) {
  const std::string log = temp_path("g.log"), out = temp_path("g.jsonl");
  std::string text = kLog;
  text += "1@1700000000.000008:virtqueue_pop vq 0x1 elem\n";
  text += "1@1700000000.000009:memory_region_ops_read cpu 0 mr 0x2 addr 0xfebf80";  // cut
  write(log, text);
  RunResult r = run(log + " -o " + out);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("2 malformed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first malformed line 8"), std::string::npos) << r.out;
}

TEST(Tool, BadPcapIsExit2) {
  const std::string log = temp_path("h.log"), pcap = temp_path("h.pcap");
  write(log, kLog);
  write(pcap, "not a pcap");
  RunResult r = run(log + " --pcap " + pcap);
  EXPECT_EQ(r.status, 2) << r.out;
}

}  // namespace
