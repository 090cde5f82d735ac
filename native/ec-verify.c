/*
 * ECDSA verification of a CSR's proof of possession, for named prime-order curves (P-256, P-384,
 * P-521), with the OpenSSL that Node itself is linked with.
 *
 * Why this exists: node:crypto can only verify with a KeyObject, and turning a device's public point
 * into one costs more than the verification itself: the JWK import runs EC_KEY_check_key, whose
 * n·Q = O test is a full scalar multiplication, and the first use converts the legacy key to a
 * provider key (together ~140 µs per fresh P-256 key on the reference machine, against ~85 µs for
 * the verification). Every CSR brings a fresh key, so that cost was paid on every certificate.
 *
 * What is still checked (SEC 1 v2 §3.2.2.1 partial validation, which is full validation here):
 * the encoding is an uncompressed or compressed point, the point is on the curve (EC_POINT_oct2point
 * refuses points that are not) and is not the point at infinity. The curves have cofactor 1, so every
 * such point has order n and the n·Q test can be left out. The signature must be DER exactly as
 * re-encoded (no BER leniency, nothing after it); r and s are range-checked by ECDSA_do_verify.
 *
 * verify(curveBits, point, hashBits, message, derSignature) -> boolean; throws only on misuse.
 * One EC_KEY per curve and per Node environment (main thread or worker): nothing is shared.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  EC_KEY *p256, *p384, *p521;
} CurveKeys;

static void free_keys(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  CurveKeys *keys = data;
  EC_KEY_free(keys->p256);
  EC_KEY_free(keys->p384);
  EC_KEY_free(keys->p521);
  free(keys);
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static int bytes_of(napi_env env, napi_value value, unsigned char **data, size_t *length) {
  bool is_typed;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type;
  size_t count, offset;
  napi_value buffer;
  void *base;
  if (napi_get_typedarray_info(env, value, &type, &count, &base, &buffer, &offset) != napi_ok || type != napi_uint8_array) return 0;
  *data = base;
  *length = count;
  return 1;
}

static int verify_with(EC_KEY *key, const unsigned char *point, size_t point_length, const EVP_MD *md,
                       const unsigned char *message, size_t message_length, const unsigned char *der, size_t der_length) {
  const EC_GROUP *group = EC_KEY_get0_group(key);
  if (point_length == 0 || (point[0] != 0x04 && point[0] != 0x02 && point[0] != 0x03)) return 0;
  int ok = 0;
  EC_POINT *q = EC_POINT_new(group);
  ECDSA_SIG *sig = NULL;
  unsigned char *reencoded = NULL;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (!q || EC_POINT_oct2point(group, q, point, point_length, NULL) != 1) goto done;
  if (EC_POINT_is_at_infinity(group, q) || EC_KEY_set_public_key(key, q) != 1) goto done;
  if (EVP_Digest(message, message_length, digest, &digest_length, md, NULL) != 1) goto done;
  const unsigned char *cursor = der;
  sig = d2i_ECDSA_SIG(NULL, &cursor, (long)der_length);
  if (!sig || cursor != der + der_length) goto done;
  int reencoded_length = i2d_ECDSA_SIG(sig, &reencoded);
  if (reencoded_length != (int)der_length || memcmp(reencoded, der, der_length) != 0) goto done;
  ok = ECDSA_do_verify(digest, (int)digest_length, sig, key) == 1;
done:
  OPENSSL_free(reencoded);
  ECDSA_SIG_free(sig);
  EC_POINT_free(q);
  return ok;
}

static napi_value verify(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value args[5];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 5) return fail(env, "verify(curveBits, point, hashBits, message, signature)");
  int32_t curve_bits, hash_bits;
  if (napi_get_value_int32(env, args[0], &curve_bits) != napi_ok || napi_get_value_int32(env, args[2], &hash_bits) != napi_ok) return fail(env, "curveBits and hashBits must be numbers");
  unsigned char *point, *message, *signature;
  size_t point_length, message_length, signature_length;
  if (!bytes_of(env, args[1], &point, &point_length) || !bytes_of(env, args[3], &message, &message_length) || !bytes_of(env, args[4], &signature, &signature_length))
    return fail(env, "point, message and signature must be Uint8Arrays");
  CurveKeys *keys;
  if (napi_get_instance_data(env, (void **)&keys) != napi_ok || !keys) return fail(env, "ec-verify is not initialised");
  EC_KEY *key = curve_bits == 256 ? keys->p256 : curve_bits == 384 ? keys->p384 : curve_bits == 521 ? keys->p521 : NULL;
  const EVP_MD *md = hash_bits == 256 ? EVP_sha256() : hash_bits == 384 ? EVP_sha384() : hash_bits == 512 ? EVP_sha512() : NULL;
  if (!key || !md) return fail(env, "unsupported curve or hash");
  napi_value result;
  napi_get_boolean(env, verify_with(key, point, point_length, md, message, message_length, signature, signature_length), &result);
  return result;
}

NAPI_MODULE_INIT() {
  CurveKeys *keys = calloc(1, sizeof(CurveKeys));
  if (!keys) return NULL;
  keys->p256 = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
  keys->p384 = EC_KEY_new_by_curve_name(NID_secp384r1);
  keys->p521 = EC_KEY_new_by_curve_name(NID_secp521r1);
  if (!keys->p256 || !keys->p384 || !keys->p521 || napi_set_instance_data(env, keys, free_keys, NULL) != napi_ok) {
    free_keys(env, keys, NULL);
    napi_throw_error(env, NULL, "ec-verify: cannot set up the curves");
    return NULL;
  }
  napi_value fn;
  napi_create_function(env, "verify", NAPI_AUTO_LENGTH, verify, NULL, &fn);
  napi_set_named_property(env, exports, "verify", fn);
  return exports;
}
