// arraykit.pki: the array's CA, member keys and CSRs, verification, rotation plans, TLS policy —
// dicts in, dicts out, PEM as str. Blocking calls (key generation, signing) release the GIL.
//
// Private keys come back as the "private_key_pem" entry of the result; the C buffer they came
// from is wiped (ak_free_secret) before the call returns. Python strings cannot be wiped, so
// callers should write the key to its 0600 file and drop the reference.
#include <string>
#include <utility>

#include "bindings.h"

namespace py = pybind11;

namespace arraykit::python {
namespace {

// Overwrites a key copy made for the call before its memory is released.
void Wipe(std::string& secret) {
  volatile char* p = secret.data();
  for (std::size_t i = 0; i < secret.size(); ++i) p[i] = '\0';
}

// Runs `call` (returning a KeyedDocument) without the GIL; the key becomes "private_key_pem".
template <typename Call>
py::object CallKeyed(Call&& call) {
  arraykit::pki::KeyedDocument result;
  try {
    py::gil_scoped_release release;
    result = call();
  } catch (const arraykit::Error& e) {
    Raise(e);
  }
  py::object doc = FromJsonText(result.json);
  doc["private_key_pem"] = py::str(result.private_key_pem.c_str(), result.private_key_pem.size());
  return doc;
}

// A truststore given as one PEM string or a list of PEM strings.
std::string TrustedPem(const py::object& value) {
  if (py::isinstance<py::str>(value) || py::isinstance<py::bytes>(value)) {
    return value.cast<std::string>();
  }
  if (py::isinstance<py::list>(value) || py::isinstance<py::tuple>(value)) {
    std::string bundle;
    for (const py::handle item : value) {
      if (!py::isinstance<py::str>(item) && !py::isinstance<py::bytes>(item)) {
        Raise(
            arraykit::Error(AK_INVALID_ARGUMENT, "trusted_ca_pem: list items must be PEM strings"));
      }
      bundle += item.cast<std::string>();
      bundle += '\n';
    }
    return bundle;
  }
  Raise(arraykit::Error(AK_INVALID_ARGUMENT,
                        "trusted_ca_pem: must be a PEM string or a list of PEM strings"));
}

// A certificate given as str (PEM) or bytes (DER or PEM): bytes go through the length-carrying
// ak_pki_certificate_pem, never through a NUL-terminated string.
std::string CertificateText(const py::object& value, const char* what) {
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (py::isinstance<py::bytes>(value)) {
    const std::string bytes = value.cast<std::string>();
    try {
      return arraykit::pki::certificate_pem(bytes);
    } catch (const arraykit::Error& e) {
      Raise(e);
    }
  }
  Raise(arraykit::Error(AK_INVALID_ARGUMENT,
                        std::string(what) + ": must be a PEM string or DER bytes",
                        "invalid_argument"));
}

}  // namespace

void RegisterPki(py::module_& m) {
  py::module_ pki = m.def_submodule(
      "pki", "The array's private PKI: CA, member keys and CSRs, verification, plans, TLS policy");

  pki.def(
      "create_ca",
      [](const py::object& options) {
        std::string text = options.is_none() ? std::string() : ToJsonText(options, "options");
        return CallKeyed([&] { return arraykit::pki::create_ca(text); });
      },
      py::arg("options") = py::none(),
      "Creates the array's CA. options: {'key_type', 'lifetime_days', 'common_name', 'now'}. "
      "Returns {'certificate_pem', 'certificate': {...}, 'private_key_pem'}.");

  pki.def(
      "create_request",
      [](const py::object& request) {
        std::string text = ToJsonText(request, "request");
        return CallKeyed([&] { return arraykit::pki::create_request(text); });
      },
      py::arg("request"),
      "Makes a member key and its CSR. request: {'name', 'key_type'}. Returns {'name', "
      "'key_type', 'csr_pem', 'private_key_pem'}.");

  pki.def(
      "sign_csr",
      [](const std::string& ca_certificate_pem, std::string ca_private_key_pem,
         const std::string& csr_pem, const py::object& options) {
        std::string text = ToJsonText(options, "options");
        std::string result;
        try {
          py::gil_scoped_release release;
          result = arraykit::pki::sign_csr(ca_certificate_pem, ca_private_key_pem.c_str(), csr_pem,
                                           text);
        } catch (const arraykit::Error& e) {
          Wipe(ca_private_key_pem);
          Raise(e);
        }
        Wipe(ca_private_key_pem);
        return FromJsonText(result);
      },
      py::arg("ca_certificate_pem"), py::arg("ca_private_key_pem"), py::arg("csr_pem"),
      py::arg("options"),
      "Signs a member's CSR with the CA. options: {'members', 'expected_name', "
      "'lifetime_days', 'now'}. Returns {'certificate_pem', 'certificate': {...}}; a refused CSR "
      "raises PermissionDeniedError with the reason in .reason ('not_a_member', ...); a CA that "
      "cannot sign it raises FailedPreconditionError ('outlives_ca', 'ca_expired').");

  py::class_<arraykit::pki::CertificateAuthority>(
      pki, "CertificateAuthority",
      "A loaded CA: its key is parsed once, for a primary that signs many CSRs.")
      .def(py::init([](const std::string& ca_certificate_pem, std::string ca_private_key_pem) {
             try {
               arraykit::pki::CertificateAuthority ca(ca_certificate_pem,
                                                      ca_private_key_pem.c_str());
               Wipe(ca_private_key_pem);
               return ca;
             } catch (const arraykit::Error& e) {
               Wipe(ca_private_key_pem);
               Raise(e);
             }
           }),
           py::arg("ca_certificate_pem"), py::arg("ca_private_key_pem"))
      .def(
          "sign_csr",
          [](const arraykit::pki::CertificateAuthority& ca, const std::string& csr_pem,
             const py::object& options) {
            std::string text = ToJsonText(options, "options");
            return CallJson([&] { return ca.sign(csr_pem, text); });
          },
          py::arg("csr_pem"), py::arg("options"),
          "As arraykit.pki.sign_csr, with the loaded CA. Releases the GIL.")
      .def(
          "certificate",
          [](const arraykit::pki::CertificateAuthority& ca) {
            return CallJson([&] { return ca.certificate(); });
          },
          "{'certificate_pem', 'certificate': {...}} of the CA.");

  pki.def(
      "certificate_pem",
      [](const py::bytes& der) {
        const std::string bytes = der;
        try {
          return arraykit::pki::certificate_pem(bytes);
        } catch (const arraykit::Error& e) {
          Raise(e);
        }
      },
      py::arg("der"),
      "The PEM text of exactly one certificate given as DER bytes; trailing bytes or a second "
      "certificate raise InvalidArgumentError with reason 'malformed'.");

  pki.def(
      "inspect_certificate",
      [](const py::object& certificate) {
        std::string pem = CertificateText(certificate, "certificate_pem");
        return CallJson([&] { return arraykit::pki::inspect_certificate(pem); });
      },
      py::arg("certificate_pem"),
      "Describes a certificate: subject, issuer, serial, validity, fingerprint_sha256 (as "
      "`openssl x509 -noout -fingerprint -sha256`), is_ca, dns_names, key, renewal_at.");

  pki.def(
      "inspect_truststore",
      [](const py::object& ca_certificates_pem) {
        std::string bundle = TrustedPem(ca_certificates_pem);
        return CallJson([&] { return arraykit::pki::inspect_truststore(bundle); });
      },
      py::arg("ca_certificates_pem"),
      "Lists the CA certificates of a truststore (a PEM bundle or a list of PEM strings).");

  pki.def(
      "verify",
      [](const py::object& certificate, const py::object& trusted_ca_pem,
         const py::object& options) {
        std::string bundle = TrustedPem(trusted_ca_pem);
        std::string text = ToJsonText(options, "options");
        std::string pem;
        if (py::isinstance<py::bytes>(certificate)) {
          // What a peer presented: DER that is not exactly one certificate is a rejection.
          try {
            pem = arraykit::pki::certificate_pem(certificate.cast<std::string>());
          } catch (const arraykit::Error& e) {
            if (e.reason() != "malformed") Raise(e);
            py::dict verdict;
            verdict["valid"] = false;
            verdict["reason"] = "malformed";
            verdict["message"] = e.what();
            return py::object(verdict);
          }
        } else {
          pem = CertificateText(certificate, "certificate_pem");
        }
        return CallJson([&] { return arraykit::pki::verify(pem, bundle, text); });
      },
      py::arg("certificate_pem"), py::arg("trusted_ca_pem"), py::arg("options"),
      "Verifies a peer certificate (PEM str or DER bytes). options: {'expected_name', 'role', "
      "'at', 'revoked_serials'} (unknown fields raise InvalidArgumentError, reason "
      "'unknown_field'). Returns {'valid', 'reason', 'message'}; a rejected certificate is a "
      "result, not an exception.");

  pki.def(
      "plan",
      [](const py::object& array, const py::object& operation) {
        std::string array_text = ToJsonText(array, "array");
        std::string operation_text = ToJsonText(operation, "operation");
        return CallJson([&] { return arraykit::pki::plan(array_text, operation_text); });
      },
      py::arg("array"), py::arg("operation"),
      "Plans the PKI steps of a join, leave, new_primary or renewal; returns {'plan', 'steps'}.");

  pki.def(
      "tls_policy",
      [](const py::object& request) {
        std::string text = request.is_none() ? std::string() : ToJsonText(request, "request");
        return CallJson([&] { return arraykit::pki::tls_policy(text); });
      },
      py::arg("request") = py::none(),
      "The TLS policy for intra-array links. request: {'min_version', 'suites'}; refused suites "
      "raise InvalidArgumentError naming each one and the allowed suites.");
}

}  // namespace arraykit::python
