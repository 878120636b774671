#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

#include "common/atomic_output.hpp"
#include "test_support.hpp"

namespace fer {
namespace {
namespace fs = std::filesystem;
using test::read_file;
using test::TempDir;
using test::write_file;

std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

TEST(AtomicOutput, WriteFileReplacesContentsAndLeavesNoTemporary) {
  TempDir dir;
  write_file_atomically(dir / "a.json", "first");
  write_file_atomically(dir / "a.json", "second");
  EXPECT_EQ(read_file(dir / "a.json"), "second");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicOutput, StagedDirectoryWithoutCommitLeavesPreviousIntact) {
  TempDir dir;
  write_file(dir / "out" / "old.txt", "old");
  try {
    StagedDirectory staged(dir / "out");
    write_file(staged.path() / "new.txt", "new");
    throw std::runtime_error("simulated failure before commit");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read_file(dir / "out" / "old.txt"), "old");
  EXPECT_FALSE(fs::exists(dir / "out" / "new.txt"));
  EXPECT_EQ(entries(dir.path()), 1u) << "the staging directory must be removed";
}

TEST(AtomicOutput, StagedDirectoryCommitReplacesWholeDirectory) {
  TempDir dir;
  write_file(dir / "out" / "old.txt", "old");
  {
    StagedDirectory staged(dir / "out");
    write_file(staged.path() / "new.txt", "new");
    staged.commit();
  }
  EXPECT_FALSE(fs::exists(dir / "out" / "old.txt"));
  EXPECT_EQ(read_file(dir / "out" / "new.txt"), "new");
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(AtomicOutput, StagedDirectoryCreatesWhenAbsent) {
  TempDir dir;
  StagedDirectory staged(dir / "nested" / "out");
  write_file(staged.path() / "x", "1");
  staged.commit();
  EXPECT_EQ(read_file(dir / "nested" / "out" / "x"), "1");
}

TEST(AtomicOutput, AbandonedStagingOfDeadProcessIsRemoved) {
  TempDir dir;
  // pid 999999999 cannot be running (above pid_max).
  fs::create_directories(dir / ".out.staging-999999999");
  StagedDirectory staged(dir / "out");
  EXPECT_FALSE(fs::exists(dir / ".out.staging-999999999"));
}

// A SIGKILLed writer waits as a zombie until its parent reaps it — for ever where PID 1
// does not reap (CI containers). Its temporary must still count as abandoned, while a
// temporary of a live process stays.
TEST(AtomicOutput, TemporariesOfAZombieAreRemovedAndOfALiveProcessKept) {
  TempDir dir;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  // Not reaped yet: wait until the child has exited and is a zombie.
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  const std::string zombie = ".coordinator.json.tmp-" + std::to_string(child);
  const std::string live = ".coordinator.json.tmp-" + std::to_string(::getpid());
  write_file(dir / zombie, "half");
  write_file(dir / live, "mine");
  remove_abandoned_temporaries(dir.path());
  EXPECT_FALSE(fs::exists(dir / zombie));
  EXPECT_TRUE(fs::exists(dir / live));
  ::waitpid(child, nullptr, 0);
}

}  // namespace
}  // namespace fer
