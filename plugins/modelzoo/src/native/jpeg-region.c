/*
 * Decodes a rectangle of a JPEG with the system's libjpeg-turbo, the library Pillow links, so the pixels
 * are Pillow's: islow IDCT, fancy upsampling, no colour management, no EXIF rotation. Rows below the
 * rectangle are never decoded and columns outside it never reach the IDCT (jpeg_crop_scanline), which
 * is where dataset-prep's time goes; libvips (sharp) spends ~2x Pillow's CPU on the same full decode.
 *
 * decodeRegion(buf, left, top, width, height) -> Promise<{ data, width, height, channels } | null>
 * runs on libuv's threadpool. null means "use the general decoder": not a grey or 3-component JPEG, a
 * libjpeg warning (damaged data) or error, so damaged files keep the general path's exact semantics.
 */
#include <node_api.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

#define STR2(x) #x
#define STR(x) STR2(x)
#ifdef LIBJPEG_TURBO_VERSION
#define LIBRARY "libjpeg-turbo " STR(LIBJPEG_TURBO_VERSION)
#else
#define LIBRARY "libjpeg " STR(JPEG_LIB_VERSION)
#endif

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  int warnings;
} ErrorManager;

static void on_error(j_common_ptr cinfo) {
  longjmp(((ErrorManager *)cinfo->err)->jump, 1);
}

static void on_message(j_common_ptr cinfo, int level) {
  if (level < 0) ((ErrorManager *)cinfo->err)->warnings++;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input;
  const unsigned char *src;
  size_t src_len;
  int left, top, width, height;
  unsigned char *out;
  int channels;
  int ok;
} Job;

/* Pixels kept away from the edges of the cropped and skipped decode: fancy upsampling reads one chroma
 * sample of context on each side, which a cropped decode replicates instead; 32 is two iMCUs. */
#define MARGIN 32

static void decode(Job *job) {
  struct jpeg_decompress_struct cinfo;
  ErrorManager err;
  unsigned char *volatile row = NULL;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  err.warnings = 0;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    free(row);
    free(job->out);
    job->out = NULL;
    job->ok = 0;
    return;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, job->src, (unsigned long)job->src_len);
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.num_components == 1) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (cinfo.num_components == 3) {
    cinfo.out_color_space = JCS_RGB;
  } else {
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&cinfo);
  const int W = (int)cinfo.output_width, H = (int)cinfo.output_height, C = cinfo.output_components;
  if (job->left < 0 || job->top < 0 || job->width <= 0 || job->height <= 0 || job->left + job->width > W ||
      job->top + job->height > H || err.warnings) {
    jpeg_abort_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  JDIMENSION x0 = (JDIMENSION)(job->left > MARGIN ? job->left - MARGIN : 0);
  int x1 = job->left + job->width + MARGIN;
  if (x1 > W) x1 = W;
  JDIMENSION cw = (JDIMENSION)x1 - x0;
  if (cw < (JDIMENSION)W) jpeg_crop_scanline(&cinfo, &x0, &cw);
  const int y0 = job->top > MARGIN ? job->top - MARGIN : 0;
  if (y0 > 0) jpeg_skip_scanlines(&cinfo, (JDIMENSION)y0);
  row = malloc((size_t)cinfo.output_width * C);
  job->out = malloc((size_t)job->width * job->height * C);
  if (!row || !job->out) {
    jpeg_abort_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    free(job->out);
    job->out = NULL;
    return;
  }
  const size_t skip = (size_t)(job->left - (int)x0) * C, bytes = (size_t)job->width * C;
  for (int y = y0; y < job->top + job->height; y++) {
    JSAMPROW rows[1] = {row};
    if (jpeg_read_scanlines(&cinfo, rows, 1) != 1) longjmp(err.jump, 1);
    if (y >= job->top) memcpy(job->out + (size_t)(y - job->top) * bytes, row + skip, bytes);
  }
  jpeg_abort_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  free(row);
  if (err.warnings) {
    free(job->out);
    job->out = NULL;
    return;
  }
  job->channels = C;
  job->ok = 1;
}

static void execute(napi_env env, void *data) {
  (void)env;
  decode((Job *)data);
}

static void free_pixels(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *job = (Job *)data;
  napi_value result;
  if (status == napi_ok && job->ok) {
    napi_value buffer, n;
    size_t len = (size_t)job->width * job->height * job->channels;
    napi_create_object(env, &result);
    if (napi_create_external_buffer(env, len, job->out, free_pixels, NULL, &buffer) != napi_ok) {
      /* Runtimes without external buffers: copy. */
      void *copy;
      napi_create_buffer_copy(env, len, job->out, &copy, &buffer);
      free(job->out);
    }
    napi_set_named_property(env, result, "data", buffer);
    napi_create_int32(env, job->width, &n);
    napi_set_named_property(env, result, "width", n);
    napi_create_int32(env, job->height, &n);
    napi_set_named_property(env, result, "height", n);
    napi_create_int32(env, job->channels, &n);
    napi_set_named_property(env, result, "channels", n);
  } else {
    free(job->out);
    napi_get_null(env, &result);
  }
  napi_resolve_deferred(env, job->deferred, result);
  napi_delete_reference(env, job->input);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value decode_region(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 5) {
    napi_throw_type_error(env, NULL, "decodeRegion(buffer, left, top, width, height)");
    return NULL;
  }
  Job *job = calloc(1, sizeof(Job));
  if (!job) {
    napi_throw_error(env, NULL, "decodeRegion: out of memory");
    return NULL;
  }
  void *src = NULL;
  bool is_typed = false;
  napi_is_typedarray(env, argv[0], &is_typed);
  if (is_typed) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    napi_get_typedarray_info(env, argv[0], &type, &length, &src, &ab, &offset);
    if (type != napi_uint8_array) src = NULL;
    job->src_len = length;
  }
  int32_t v[4];
  for (int i = 0; i < 4; i++) {
    if (napi_get_value_int32(env, argv[i + 1], &v[i]) != napi_ok) src = NULL;
  }
  if (!src) {
    free(job);
    napi_throw_type_error(env, NULL, "decodeRegion: expected a Uint8Array and four integers");
    return NULL;
  }
  job->src = (const unsigned char *)src;
  job->left = v[0];
  job->top = v[1];
  job->width = v[2];
  job->height = v[3];
  napi_value promise, name;
  napi_create_reference(env, argv[0], 1, &job->input);
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "jpeg-region", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, version;
  napi_create_function(env, "decodeRegion", NAPI_AUTO_LENGTH, decode_region, NULL, &fn);
  napi_set_named_property(env, exports, "decodeRegion", fn);
  napi_create_string_utf8(env, LIBRARY, NAPI_AUTO_LENGTH, &version);
  napi_set_named_property(env, exports, "library", version);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
