#pragma once
// Self-signed certificates made at test time with the openssl CLI (as a go-livepeer orchestrator
// makes its own at start-up), in a temporary folder removed when the suite ends.

#include <cstdlib>
#include <filesystem>
#include <string>

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

namespace trickle::test {

struct TestCertificate {
  std::string cert_file;  // PEM certificate; also the CA bundle that trusts it (self-signed)
  std::string key_file;
};

class TestCertificates {
 public:
  TestCertificates() {
    std::string pattern = (std::filesystem::temp_directory_path() / "trickle-tls-XXXXXX").string();
    BOOST_REQUIRE_MESSAGE(::mkdtemp(pattern.data()) != nullptr, "cannot make a temporary folder");
    dir_ = pattern;
  }
  ~TestCertificates() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  // A P-256 certificate for `names` (subjectAltName entries, e.g. "IP:127.0.0.1,DNS:localhost").
  TestCertificate make(const std::string& name, const std::string& names) const {
    TestCertificate out{(dir_ / (name + ".crt")).string(), (dir_ / (name + ".key")).string()};
    auto command = fmt::format(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN={} -addext subjectAltName={} -keyout {} -out {} >/dev/null 2>&1",
        name, names, out.key_file, out.cert_file);
    BOOST_REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "openssl could not make a certificate: " << command);
    return out;
  }

  std::string path(const std::string& file) const { return (dir_ / file).string(); }

 private:
  std::filesystem::path dir_;
};

// The relay's certificate for 127.0.0.1 and localhost, made once per test program.
inline const TestCertificates& certificates() {
  static TestCertificates made;
  return made;
}
inline const TestCertificate& loopback_certificate() {
  static TestCertificate made = certificates().make("loopback", "IP:127.0.0.1,DNS:localhost");
  return made;
}

}  // namespace trickle::test
