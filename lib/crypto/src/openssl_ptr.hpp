#pragma once
// RAII owners for the OpenSSL objects used by pki.cpp and its tests: every object OpenSSL hands
// out is wrapped at once so that no early return or exception can leak it.
#include <memory>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace sallyport::crypto::detail {

template <auto free_fn>
struct OpensslDeleter {
  template <typename T>
  void operator()(T* object) const noexcept {
    free_fn(object);
  }
};

template <typename T, auto free_fn>
using OpensslPtr = std::unique_ptr<T, OpensslDeleter<free_fn>>;

using Asn1IntegerPtr = OpensslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1OctetStringPtr = OpensslPtr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using BignumPtr = OpensslPtr<BIGNUM, BN_free>;
using BioPtr = OpensslPtr<BIO, BIO_free_all>;
using EvpPkeyCtxPtr = OpensslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using EvpPkeyPtr = OpensslPtr<EVP_PKEY, EVP_PKEY_free>;
using GeneralNamePtr = OpensslPtr<GENERAL_NAME, GENERAL_NAME_free>;
using GeneralNamesPtr = OpensslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;
using Ia5StringPtr = OpensslPtr<ASN1_IA5STRING, ASN1_IA5STRING_free>;
using X509ExtensionPtr = OpensslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using X509NamePtr = OpensslPtr<X509_NAME, X509_NAME_free>;
using X509Ptr = OpensslPtr<X509, X509_free>;
using X509StoreCtxPtr = OpensslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;
using X509StorePtr = OpensslPtr<X509_STORE, X509_STORE_free>;

// Buffers OpenSSL allocates for us (i2d_* output); OPENSSL_free is a macro, hence no template.
struct OpensslFree {
  void operator()(void* memory) const noexcept { OPENSSL_free(memory); }
};
using OpensslBytesPtr = std::unique_ptr<unsigned char, OpensslFree>;

}  // namespace sallyport::crypto::detail
