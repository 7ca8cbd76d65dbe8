// cli_support.hpp: what the CLI tests share: running the built rillflow binary on pipes
// (Process, run), its Output, and unique names and ids for each test's own data.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#ifndef RILLFLOW_CLI_PATH
#error "RILLFLOW_CLI_PATH must name the rillflow binary"
#endif

namespace rillflow::cli_test {

struct Output {
    int code = -1;  // exit code; 128 + n when killed by signal n
    std::string out;
    std::string err;
};

inline std::ostream& operator<<(std::ostream& os, const Output& o) {
    return os << "exit " << o.code << "\n--- stdout\n" << o.out << "--- stderr\n" << o.err;
}

// A running rillflow process with its stdin, stdout and stderr on pipes.
class Process {
  public:
    // `env` overrides (a value of std::nullopt removes the variable).
    Process(const std::vector<std::string>& args,
            const std::map<std::string, std::optional<std::string>>& env = {}) {
        int in[2], out[2], err[2];
        if (pipe(in) != 0 || pipe(out) != 0 || pipe(err) != 0) throw std::runtime_error("pipe");
        pid_ = fork();
        if (pid_ < 0) throw std::runtime_error("fork");
        if (pid_ == 0) {
            dup2(in[0], 0);
            dup2(out[1], 1);
            dup2(err[1], 2);
            for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
            for (const auto& [key, value] : env) {
                if (value)
                    setenv(key.c_str(), value->c_str(), 1);
                else
                    unsetenv(key.c_str());
            }
            std::vector<char*> argv;
            std::string path = RILLFLOW_CLI_PATH;
            argv.push_back(path.data());
            std::vector<std::string> copy = args;
            for (auto& a : copy) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(path.c_str(), argv.data());
            _exit(127);
        }
        close(in[0]);
        close(out[1]);
        close(err[1]);
        in_ = in[1];
        out_ = out[0];
        err_ = err[0];
    }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        for (int fd : {in_, out_, err_})
            if (fd >= 0) close(fd);
    }

    void write_stdin(const std::string& data) {
        size_t done = 0;
        while (done < data.size()) {
            ssize_t n = write(in_, data.data() + done, data.size() - done);
            if (n <= 0) break;
            done += static_cast<size_t>(n);
        }
    }
    void close_stdin() {
        if (in_ >= 0) close(in_);
        in_ = -1;
    }

    // Reads what is available until `done(out)` holds or the timeout passes.
    bool read_until(const std::function<bool(const std::string&)>& done,
                    std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done(out)) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            if (!pump(static_cast<int>(left.count()))) return done(out);
        }
        return true;
    }

    void signal(int sig) { kill(pid_, sig); }

    // Closes stdin, reads everything, and waits for the exit.
    Output wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        close_stdin();
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (out_ >= 0 || err_ >= 0) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                kill(pid_, SIGKILL);
                break;
            }
            pump(static_cast<int>(left.count()));
        }
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
        Output o;
        o.out = out;
        o.err = err;
        o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return o;
    }

    std::string out, err;

  private:
    // One poll of stdout and stderr; false when both are closed.
    bool pump(int timeout_ms) {
        pollfd fds[2];
        int n = 0;
        if (out_ >= 0) fds[n++] = {out_, POLLIN, 0};
        if (err_ >= 0) fds[n++] = {err_, POLLIN, 0};
        if (n == 0) return false;
        if (poll(fds, n, timeout_ms) <= 0) return true;
        for (int i = 0; i < n; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[65536];
            ssize_t got = read(fds[i].fd, buf, sizeof buf);
            bool is_out = fds[i].fd == out_;
            if (got <= 0) {
                close(fds[i].fd);
                (is_out ? out_ : err_) = -1;
            } else {
                (is_out ? out : err).append(buf, static_cast<size_t>(got));
            }
        }
        return true;
    }

    pid_t pid_ = -1;
    int in_ = -1, out_ = -1, err_ = -1;
};

inline Output run(const std::vector<std::string>& args, const std::string& stdin_data = {},
                  const std::map<std::string, std::optional<std::string>>& env = {}) {
    Process p(args, env);
    if (!stdin_data.empty()) p.write_stdin(stdin_data);
    return p.wait();
}

inline nlohmann::json parse(const Output& o) {
    try {
        return nlohmann::json::parse(o.out);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not one JSON document: " << e.what() << "\n" << o;
        return nlohmann::json();
    }
}

inline std::string unique(const std::string& prefix) {
    static std::mt19937_64 rng(std::random_device{}());
    return prefix + std::to_string(getpid()) + "_" + std::to_string(rng() % 1000000000);
}

// A random version-4 uuid.
inline std::string random_uuid() {
    static std::mt19937_64 rng(std::random_device{}());
    char buf[37];
    std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-8%03x-%012llx",
                  static_cast<unsigned>(rng() & 0xffffffff), static_cast<unsigned>(rng() & 0xffff),
                  static_cast<unsigned>(rng() & 0xfff), static_cast<unsigned>(rng() & 0xfff),
                  static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
    return buf;
}

}  // namespace rillflow::cli_test
