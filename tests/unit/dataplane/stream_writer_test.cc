// StreamWriter over a real socket pair: corked writes are gathered and leave in order, a write too
// large to gather takes the gathered bytes along, and dropped bytes never leave.
#include "dataplane/stream_writer.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <string>

namespace podrouter {
namespace {

class StreamWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
    uv_loop_init(&loop_);
    uv_pipe_init(&loop_, &pipe_, 0);
    ASSERT_EQ(uv_pipe_open(&pipe_, fds_[0]), 0);
    writer_.Init(reinterpret_cast<uv_stream_t*>(&pipe_), nullptr);
  }
  void TearDown() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    close(fds_[1]);
  }
  // Everything the peer can read now.
  std::string Drain() {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = recv(fds_[1], buf, sizeof(buf), MSG_DONTWAIT)) > 0) out.append(buf, n);
    return out;
  }

  int fds_[2];
  uv_loop_t loop_;
  uv_pipe_t pipe_;
  StreamWriter writer_;
};

TEST_F(StreamWriterTest, CorkedWritesLeaveTogetherAtUncork) {
  writer_.Cork();
  EXPECT_EQ(writer_.Write("HTTP/1.1 200 OK\r\n\r\n"), 0);
  EXPECT_EQ(writer_.Write("body"), 0);
  EXPECT_EQ(Drain(), "");  // nothing left yet
  EXPECT_EQ(writer_.Uncork(), 0);
  EXPECT_EQ(Drain(), "HTTP/1.1 200 OK\r\n\r\nbody");
  EXPECT_EQ(writer_.Write("after"), 0);  // uncorked: straight out
  EXPECT_EQ(Drain(), "after");
}

TEST_F(StreamWriterTest, LargeWriteTakesTheGatheredBytesAlongInOrder) {
  const std::string big(20000, 'x');
  writer_.Cork();
  EXPECT_EQ(writer_.Write("head;"), 0);
  EXPECT_EQ(writer_.Write(big), 0);
  EXPECT_EQ(Drain(), "head;" + big);    // out before Uncork, head first
  EXPECT_EQ(writer_.Write("tail"), 0);  // still corked
  EXPECT_EQ(Drain(), "");
  EXPECT_EQ(writer_.Uncork(), 0);
  EXPECT_EQ(Drain(), "tail");
}

TEST_F(StreamWriterTest, DroppedBytesNeverLeave) {
  writer_.Cork();
  EXPECT_EQ(writer_.Write("lost"), 0);
  writer_.DropCorked();
  EXPECT_EQ(writer_.Uncork(), 0);
  EXPECT_EQ(writer_.Write("kept"), 0);
  EXPECT_EQ(Drain(), "kept");
  EXPECT_EQ(writer_.unsent(), 0u);
}

}  // namespace
}  // namespace podrouter
