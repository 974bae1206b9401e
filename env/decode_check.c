/* decode_check: decode a video the way decord does, with the FFmpeg that build_ffmpeg.sh built.
 *
 * avformat demuxes, avcodec decodes, and an avfilter graph buffer -> scale -> transpose ->
 * buffersink converts each frame to RGB24 at half size, turned clockwise. Links all seven
 * libraries decord links (avdevice and swresample included), so a missing one fails the link.
 *
 * Build:  cc env/decode_check.c -o decode_check -I$PREFIX/include -L$PREFIX/lib \
 *           -Wl,-rpath,$PREFIX/lib -lavformat -lavfilter -lavcodec -lavutil -lavdevice \
 *           -lswresample -lswscale
 * Run:    ./decode_check clip.mp4
 * Prints: "codec=h264 demuxer=mov,mp4,... in=64x48" then per frame
 *         "frame=N out=WxH top=MEAN bottom=MEAN" (mean of all RGB bytes in the top and bottom
 *         halves of the output), then "frames=N". Exits non-zero with a one-line error otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

static int fail(const char *what, int err) {
    char buf[128] = "";
    if (err) av_strerror(err, buf, sizeof buf);
    fprintf(stderr, "decode_check: error: %s %s\n", what, buf);
    return 1;
}

static AVFilterGraph *graph;
static AVFilterContext *src_ctx, *sink_ctx;

static int make_graph(const AVCodecContext *dec, AVRational tb) {
    char args[256], descr[64];
    AVFilterInOut *in = avfilter_inout_alloc(), *out = avfilter_inout_alloc();
    enum AVPixelFormat fmts[] = {AV_PIX_FMT_RGB24, AV_PIX_FMT_NONE};
    graph = avfilter_graph_alloc();
    snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=1/1",
             dec->width, dec->height, dec->pix_fmt, tb.num, tb.den);
    if (avfilter_graph_create_filter(&src_ctx, avfilter_get_by_name("buffer"), "in", args, NULL, graph) < 0 ||
        avfilter_graph_create_filter(&sink_ctx, avfilter_get_by_name("buffersink"), "out", NULL, NULL, graph) < 0 ||
        av_opt_set_int_list(sink_ctx, "pix_fmts", fmts, AV_PIX_FMT_NONE, AV_OPT_SEARCH_CHILDREN) < 0)
        return -1;
    out->name = av_strdup("in"); out->filter_ctx = src_ctx; out->pad_idx = 0; out->next = NULL;
    in->name = av_strdup("out"); in->filter_ctx = sink_ctx; in->pad_idx = 0; in->next = NULL;
    snprintf(descr, sizeof descr, "scale=%d:%d,transpose=clock", dec->width / 2, dec->height / 2);
    if (avfilter_graph_parse_ptr(graph, descr, &in, &out, NULL) < 0) return -1;
    avfilter_inout_free(&in);
    avfilter_inout_free(&out);
    return avfilter_graph_config(graph, NULL);
}

static double mean_rows(const AVFrame *f, int y0, int y1) {
    double sum = 0;
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < f->width * 3; x++) sum += f->data[0][y * f->linesize[0] + x];
    return sum / ((double)(y1 - y0) * f->width * 3);
}

static int drain(AVCodecContext *dec, AVFrame *frame, AVFrame *rgb, int *count) {
    int err;
    while ((err = avcodec_receive_frame(dec, frame)) >= 0) {
        if (av_buffersrc_add_frame(src_ctx, frame) < 0) return fail("buffersrc", 0);
        while (av_buffersink_get_frame(sink_ctx, rgb) >= 0) {
            printf("frame=%d out=%dx%d top=%.1f bottom=%.1f\n", *count, rgb->width, rgb->height,
                   mean_rows(rgb, 0, rgb->height / 2), mean_rows(rgb, rgb->height / 2, rgb->height));
            (*count)++;
            av_frame_unref(rgb);
        }
    }
    return (err == AVERROR(EAGAIN) || err == AVERROR_EOF) ? 0 : fail("decode", err);
}

int main(int argc, char **argv) {
    AVFormatContext *fmt = NULL;
    AVCodec *codec = NULL;  /* const in FFmpeg >= 5; decord's code assumes 4.x */
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc(), *rgb = av_frame_alloc();
    int err, count = 0;
    if (argc != 2) { fprintf(stderr, "usage: decode_check VIDEO\n"); return 2; }
    avdevice_register_all();  /* proves libavdevice links */
    (void)swr_alloc;           /* proves libswresample links */
    if ((err = avformat_open_input(&fmt, argv[1], NULL, NULL)) < 0) return fail("open", err);
    if ((err = avformat_find_stream_info(fmt, NULL)) < 0) return fail("stream info", err);
    int vs = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (vs < 0) return fail("no video stream / no decoder for it", vs);
    AVCodecContext *dec = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec, fmt->streams[vs]->codecpar);
    if ((err = avcodec_open2(dec, codec, NULL)) < 0) return fail("open decoder", err);
    if (make_graph(dec, fmt->streams[vs]->time_base) < 0) return fail("filter graph (buffer/scale/transpose/buffersink)", 0);
    printf("codec=%s demuxer=%s in=%dx%d\n", codec->name, fmt->iformat->name, dec->width, dec->height);
    while (av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == vs && (err = avcodec_send_packet(dec, pkt)) < 0) return fail("send packet", err);
        av_packet_unref(pkt);
        if (drain(dec, frame, rgb, &count)) return 1;
    }
    avcodec_send_packet(dec, NULL);
    if (drain(dec, frame, rgb, &count)) return 1;
    printf("frames=%d\n", count);
    avfilter_graph_free(&graph);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return count > 0 ? 0 : fail("no frames decoded", 0);
}
