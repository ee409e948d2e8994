//===- OutputFileTests.cpp - lowbitrt/OutputFile.h ------------------------===//
//
// The one output helper: atomic replacement of regular files, direct writes
// to devices and FIFOs, refusal of directories and sockets, pre-flight
// checks, stale temporaries, and full disks (/dev/full; a small tmpfs when
// running as root).
//
//===----------------------------------------------------------------------===//

#include "lowbitrt/OutputFile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace lowbit::rt;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/lowbit-outputfile-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { removeTree(path); }
  std::string file(const std::string &name) const { return path + "/" + name; }
  /// The names in the directory, sorted (dot files included).
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    if (DIR *d = ::opendir(path.c_str())) {
      while (struct dirent *e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
          names.push_back(e->d_name);
      ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
  }
};

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeRaw(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(OutputFile, CreatesAndReplacesRegularFiles) {
  TempDir dir;
  std::string path = dir.file("out.bin"), err;
  ASSERT_TRUE(writeFileAtomically(path, "first", 5, err)) << err;
  EXPECT_EQ(readFile(path), "first");
  ASSERT_TRUE(writeFileAtomically(path, "second!", 7, err)) << err;
  EXPECT_EQ(readFile(path), "second!");
  EXPECT_EQ(dir.files(), std::vector<std::string>{"out.bin"});

  // pwrite patches the temporary before the rename.
  OutputFile out;
  ASSERT_TRUE(out.open(path, err)) << err;
  EXPECT_TRUE(out.seekable());
  EXPECT_FALSE(out.isDirect());
  ASSERT_TRUE(out.write("xxxxdata", 8, err)) << err;
  ASSERT_TRUE(out.pwrite(0, "HEAD", 4, err)) << err;
  EXPECT_EQ(readFile(path), "second!"); // not visible before commit
  ASSERT_TRUE(out.commit(err)) << err;
  EXPECT_EQ(readFile(path), "HEADdata");
  EXPECT_EQ(dir.files(), std::vector<std::string>{"out.bin"});
}

TEST(OutputFile, DiscardKeepsThePreviousFile) {
  TempDir dir;
  std::string path = dir.file("keep.bin"), err;
  writeRaw(path, "good old bytes");
  {
    OutputFile out;
    ASSERT_TRUE(out.open(path, err)) << err;
    ASSERT_TRUE(out.write("half", 4, err)) << err;
    // The temporary exists meanwhile, with an obviously temporary name.
    std::vector<std::string> names = dir.files();
    ASSERT_EQ(names.size(), 2u);
    EXPECT_EQ(names[0].rfind(".keep.bin.lowbit-tmp-" +
                                 std::to_string(::getpid()) + "-",
                             0),
              0u)
        << names[0];
    // Destroyed without commit(): as if the writer failed.
  }
  EXPECT_EQ(readFile(path), "good old bytes");
  EXPECT_EQ(dir.files(), std::vector<std::string>{"keep.bin"});
}

TEST(OutputFile, FullDeviceIsAnError) {
  // /dev/full: every write fails with ENOSPC; it is written directly.
  struct stat st;
  if (::stat("/dev/full", &st) != 0 || ::access("/dev/full", W_OK) != 0)
    GTEST_SKIP() << "/dev/full is not available";
  std::string err;
  OutputFile out;
  ASSERT_TRUE(out.open("/dev/full", err)) << err;
  EXPECT_TRUE(out.isDirect());
  EXPECT_FALSE(out.write("x", 1, err));
  EXPECT_EQ(err, "/dev/full: write failed: " + std::string(strerror(ENOSPC)));
  ASSERT_EQ(::stat("/dev/full", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST(OutputFile, DevNullIsWrittenNotReplaced) {
  std::string err;
  struct stat before, after;
  ASSERT_EQ(::stat("/dev/null", &before), 0);
  ASSERT_TRUE(checkOutputFile("/dev/null", err)) << err;
  OutputFile out;
  ASSERT_TRUE(out.open("/dev/null", err)) << err;
  EXPECT_TRUE(out.isDirect());
  EXPECT_FALSE(out.seekable());
  ASSERT_TRUE(out.write("bytes", 5, err)) << err;
  ASSERT_TRUE(out.commit(err)) << err;
  ASSERT_EQ(::stat("/dev/null", &after), 0);
  EXPECT_TRUE(S_ISCHR(after.st_mode));
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(before.st_rdev, after.st_rdev);
}

TEST(OutputFile, FifoIsWrittenInPlace) {
  TempDir dir;
  std::string fifo = dir.file("pipe"), err;
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string received;
  std::thread reader([&] { received = readFile(fifo); });
  ASSERT_TRUE(writeFileAtomically(fifo, "through the pipe", 16, err)) << err;
  reader.join();
  EXPECT_EQ(received, "through the pipe");
  struct stat st;
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(dir.files(), std::vector<std::string>{"pipe"});
}

TEST(OutputFile, RefusesDirectoriesAndSockets) {
  TempDir dir;
  std::string err;
  std::string sub = dir.file("sub");
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  EXPECT_FALSE(checkOutputFile(sub, err));
  EXPECT_EQ(err, sub + ": cannot write: is a directory");
  EXPECT_FALSE(writeFileAtomically(sub, "x", 1, err));
  EXPECT_EQ(err, sub + ": cannot write: is a directory");

  std::string sock = dir.file("sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(sock.size(), sizeof(addr.sun_path));
  std::strcpy(addr.sun_path, sock.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
  EXPECT_FALSE(writeFileAtomically(sock, "x", 1, err));
  EXPECT_EQ(err, sock + ": cannot write: is a socket");
  ::close(fd);
  struct stat st;
  ASSERT_EQ(::stat(sock.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
}

TEST(OutputFile, PreflightNamesThePath) {
  TempDir dir;
  std::string err;
  std::string missing = dir.file("no/such/dir/out.bin");
  EXPECT_FALSE(checkOutputFile(missing, err));
  EXPECT_EQ(err, missing + ": cannot write: directory '" +
                     dir.file("no/such/dir") + "': " + strerror(ENOENT));
  std::string plain = dir.file("plain");
  writeRaw(plain, "x");
  EXPECT_FALSE(checkOutputFile(plain + "/out.bin", err));
  EXPECT_EQ(err, plain + "/out.bin: cannot write: '" + plain +
                     "' is not a directory");
  EXPECT_TRUE(checkOutputFile(dir.file("new.bin"), err)) << err;
  EXPECT_TRUE(checkOutputFile("-", err, /*dashIsStdout=*/true)) << err;

  // Output directories: the parent must exist; the path, if it exists,
  // must be a directory.
  EXPECT_TRUE(checkOutputDirectory(dir.file("outdir"), err)) << err;
  EXPECT_FALSE(checkOutputDirectory(plain, err));
  EXPECT_EQ(err, plain + ": cannot write the output directory: the path "
                         "exists and is not a directory");
  EXPECT_FALSE(checkOutputDirectory(dir.file("no/such"), err));
  EXPECT_FALSE(checkOutputDirectory("/dev/null", err));

  if (::geteuid() != 0) {
    std::string ro = dir.file("ro");
    ASSERT_EQ(::mkdir(ro.c_str(), 0500), 0);
    EXPECT_FALSE(checkOutputFile(ro + "/out.bin", err));
    EXPECT_NE(err.find("is not writable"), std::string::npos) << err;
  }
}

TEST(OutputFile, SweepsTemporariesOfDeadProcesses) {
  TempDir dir;
  std::string path = dir.file("model.lowbit"), err;
  // A process that is certainly gone: a child that exited and was reaped.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0)
    ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  std::string dead =
      ".model.lowbit.lowbit-tmp-" + std::to_string(child) + "-0badc0de";
  std::string deadDir =
      ".model.lowbit.lowbit-tmp-" + std::to_string(child) + "-0000beef";
  // Our parent is alive: its temporary stays.
  std::string live =
      ".model.lowbit.lowbit-tmp-" + std::to_string(::getppid()) + "-12345678";
  // Another output's temporary and an unrelated name stay too.
  std::string other =
      ".other.bin.lowbit-tmp-" + std::to_string(child) + "-00000000";
  writeRaw(dir.file(dead), "stale");
  ASSERT_EQ(::mkdir(dir.file(deadDir).c_str(), 0700), 0);
  writeRaw(dir.file(deadDir) + "/inner", "stale");
  writeRaw(dir.file(live), "in progress");
  writeRaw(dir.file(other), "other");
  writeRaw(dir.file("notes.txt"), "mine");
  ASSERT_TRUE(writeFileAtomically(path, "new", 3, err)) << err;
  std::vector<std::string> want = {live, other, "model.lowbit", "notes.txt"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(dir.files(), want);
  EXPECT_EQ(sweepStaleTemporaries(path), 0);
}

TEST(OutputFile, SymlinkKeepsTheLink) {
  TempDir dir;
  std::string target = dir.file("real.bin"), link = dir.file("link.bin"), err;
  writeRaw(target, "old");
  ASSERT_EQ(::symlink("real.bin", link.c_str()), 0);
  ASSERT_TRUE(writeFileAtomically(link, "new", 3, err)) << err;
  struct stat st;
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(readFile(target), "new");
}

TEST(OutputFile, FullFileSystemKeepsThePreviousFile) {
  if (::geteuid() != 0)
    GTEST_SKIP() << "mounting a small tmpfs needs root";
  TempDir dir;
  if (::mount("tmpfs", dir.path.c_str(), "tmpfs", 0, "size=64k") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs on " << dir.path << ": "
                 << strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount(path.c_str()); }
  } unmount{dir.path};
  std::string path = dir.file("out.bin"), err;
  writeRaw(path, "good old bytes");
  std::string big(256 * 1024, 'x');
  EXPECT_FALSE(writeFileAtomically(path, big.data(), big.size(), err));
  EXPECT_EQ(err, path + ": write failed: " + std::string(strerror(ENOSPC)));
  EXPECT_EQ(readFile(path), "good old bytes");
  EXPECT_EQ(dir.files(), std::vector<std::string>{"out.bin"});
}

} // namespace
