/* SPDX-License-Identifier: MIT */
/*
 * Folded stacks merged into one tree (a node per distinct path from the
 * root, found through a hash of (parent, name)), laid out with children in
 * name order so that the picture depends only on the counts, and written
 * as an SVG in the style of flamegraph.pl: a box per frame, width by
 * samples, the frame's name and share on hover, click to zoom, search.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/array.h>

#include "draw.h"
#include "draw_impl.h"

struct probe {
	uint32_t parent;
	const char *name;
	size_t len;
};

static uint32_t key_hash(uint32_t parent, const char *name, size_t len)
{
	return smcp_hash_u64(((uint64_t)smcp_hash_bytes(name, len) << 32) | parent);
}

static bool node_equal(uint64_t stored, uint64_t key, void *ctx)
{
	const struct draw_flame *f = ctx;
	const struct draw_node *n = &f->nodes[stored];
	const struct probe *p = (const struct probe *)(uintptr_t)key;

	return n->parent == p->parent && strnlen(n->name, p->len + 1) == p->len &&
	       memcmp(n->name, p->name, p->len) == 0;
}

static int new_node(struct draw_flame *f, uint32_t parent, const char *name, size_t len,
		    uint32_t *ret)
{
	struct draw_node *n;

	if (f->n >= DRAW_MAX_NODES)
		return -E2BIG;
	if (smcp_array_grow(&f->nodes, &f->cap, f->n, sizeof(*f->nodes), 1024))
		return -ENOMEM;
	n = &f->nodes[f->n];
	memset(n, 0, sizeof(*n));
	/* name is a slice of the caller's text, not a string: copy len bytes
	 * (strndup may read on to a NUL past the slice) */
	n->name = malloc(len + 1);
	if (!n->name)
		return -ENOMEM;
	memcpy(n->name, name, len);
	n->name[len] = '\0';
	n->parent = parent;
	n->first_child = n->next_sibling = UINT32_MAX;
	if (f->n) {
		n->depth = f->nodes[parent].depth + 1;
		n->next_sibling = f->nodes[parent].first_child;
		f->nodes[parent].first_child = (uint32_t)f->n;
	}
	if (n->depth > f->max_depth)
		f->max_depth = n->depth;
	*ret = (uint32_t)f->n++;
	return 0;
}

int draw_flame_init(struct draw_flame *f)
{
	uint32_t root;

	memset(f, 0, sizeof(*f));
	smcp_hashmap_init(&f->idx, NULL, node_equal, f, DRAW_MAX_NODES);
	if (new_node(f, 0, "all", 3, &root)) {
		draw_flame_free(f);
		return -ENOMEM;
	}
	f->nodes[0].parent = UINT32_MAX;
	return 0;
}

void draw_flame_free(struct draw_flame *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		free(f->nodes[i].name);
	free(f->nodes);
	smcp_hashmap_free(&f->idx);
	memset(f, 0, sizeof(*f));
}

static int child_of(struct draw_flame *f, uint32_t parent, const char *name, size_t len,
		    uint32_t *ret)
{
	struct probe p = { parent, name, len };
	uint32_t h = key_hash(parent, name, len);
	struct smcp_hashmap_entry *e;
	int err;

	/* the hashmap's equal_fn reads f->nodes: keep the pointer current */
	f->idx.ctx = f;
	e = smcp_hashmap_find_hashed(&f->idx, (uint64_t)(uintptr_t)&p, h);
	if (e) {
		*ret = (uint32_t)e->value;
		return 0;
	}
	err = new_node(f, parent, name, len, ret);
	if (!err)
		err = smcp_hashmap_add_hashed(&f->idx, *ret, h, *ret, NULL);
	return err < 0 ? err : 0;
}

/* One "a;b;c COUNT" line (no newline). */
static int add_line(struct draw_flame *f, const char *s, size_t len, int which)
{
	const char *end = s + len, *sp, *p;
	uint32_t cur = 0, depth = 0;
	uint64_t count = 0;
	int err;

	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	for (sp = end; sp > s && sp[-1] != ' '; sp--)
		;
	if (sp == end || sp == s)
		goto bad;
	for (p = sp; p < end; p++) {
		if (*p < '0' || *p > '9' || count > UINT64_MAX / 10 - 10)
			goto bad;
		count = count * 10 + (uint64_t)(*p - '0');
	}
	end = sp - 1;
	while (end > s && end[-1] == ' ')
		end--;
	/* every node's count is at most the root's: it alone can overflow */
	if (end == s || !count || f->nodes[0].count[which] > UINT64_MAX - count)
		goto bad;
	f->nodes[0].count[which] += count;
	for (p = s; p < end;) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		size_t n = (semi ? semi : end) - p;

		if (n > DRAW_MAX_NAME)
			n = DRAW_MAX_NAME;
		n = strnlen(p, n); /* a NUL in a file ends the name, as it is kept */
		if (n && depth < DRAW_MAX_DEPTH) {
			err = child_of(f, cur, p, n, &cur);
			if (err == -E2BIG) {
				f->cut = true;
				break; /* the samples stay with the deepest frame kept */
			}
			if (err)
				return err;
			f->nodes[cur].count[which] += count;
			depth++;
		}
		p = semi ? semi + 1 : end;
	}
	f->lines[which]++;
	return 0;
bad:
	f->bad_lines[which]++;
	return 0;
}

int draw_flame_add(struct draw_flame *f, const char *text, size_t len, int which)
{
	const char *p = text, *end = text + len;
	int err;

	if (which < 0 || which > 1 || !f->n)
		return -EINVAL;
	if (which)
		f->diff = true;
	f->laid_out = false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (nl ? nl : end) - p;

		if (n && *p != '#') {
			err = add_line(f, p, n, which);
			if (err)
				return err;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static int by_name(const void *a, const void *b, void *ctx)
{
	const struct draw_node *nodes = ctx;

	return strcmp(nodes[*(const uint32_t *)a].name, nodes[*(const uint32_t *)b].name);
}

void draw_flame_layout(struct draw_flame *f)
{
	uint32_t *kids = NULL;
	size_t cap = 0;

	if (f->laid_out || !f->n)
		return;
	/* parents come before their children in nodes[]: one pass suffices */
	f->nodes[0].x = 0;
	for (size_t i = 0; i < f->n; i++) {
		struct draw_node *n = &f->nodes[i];
		size_t k = 0;
		double x = n->x, tot = (double)f->nodes[0].count[0];

		for (uint32_t c = n->first_child; c != UINT32_MAX; c = f->nodes[c].next_sibling) {
			if (smcp_array_grow(&kids, &cap, k, sizeof(*kids), 64)) {
				free(kids);
				return; /* out of memory: keep the input order */
			}
			kids[k++] = c;
		}
		if (k > 1) /* kids is NULL until a node has children */
			qsort_r(kids, k, sizeof(*kids), by_name, f->nodes);
		n->first_child = k ? kids[0] : UINT32_MAX;
		for (size_t j = 0; j < k; j++) {
			struct draw_node *c = &f->nodes[kids[j]];

			c->next_sibling = j + 1 < k ? kids[j + 1] : UINT32_MAX;
			c->x = x;
			x += tot > 0 ? (double)c->count[0] / tot : 0;
		}
	}
	free(kids);
	f->laid_out = true;
}

uint32_t draw_flame_next(const struct draw_flame *f, uint32_t i)
{
	if (f->nodes[i].first_child != UINT32_MAX)
		return f->nodes[i].first_child;
	for (; i != UINT32_MAX; i = f->nodes[i].parent)
		if (f->nodes[i].next_sibling != UINT32_MAX)
			return f->nodes[i].next_sibling;
	return UINT32_MAX;
}

bool draw_frame_is_kernel(const char *name)
{
	size_t n = strlen(name);

	return n >= 4 && strcmp(name + n - 4, "_[k]") == 0;
}

/* flamegraph.pl's "hot" palette for user frames, a blue-green one for
 * kernel frames; the shade comes from the name, so a function keeps its
 * colour from one picture to the next. */
uint32_t draw_frame_colour(const struct draw_flame *f, const struct draw_node *n)
{
	uint32_t h = smcp_hash_str(n->name);
	double v1 = (h & 0xff) / 255.0, v2 = ((h >> 8) & 0xff) / 255.0;
	int r, g, b;

	if (f->diff) {
		double t0 = (double)f->nodes[0].count[0], t1 = (double)f->nodes[0].count[1];
		double d = (t0 ? n->count[0] / t0 : 0) - (t1 ? n->count[1] / t1 : 0);
		double m = f->diff_max > 0 ? fabs(d) / f->diff_max : 0;
		int fade = (int)lround(210 * (1 - (m > 1 ? 1 : m)));

		if (d > 0)
			return (255u << 16) | ((uint32_t)fade << 8) | (uint32_t)fade;
		if (d < 0)
			return ((uint32_t)fade << 16) | ((uint32_t)fade << 8) | 255u;
		return 0xd2d2d2;
	}
	if (draw_frame_is_kernel(n->name)) {
		r = 50 + (int)(60 * v1);
		g = 160 + (int)(60 * v2);
		b = 200 + (int)(55 * v1);
	} else {
		r = 205 + (int)(50 * v2);
		g = (int)(230 * v1);
		b = (int)(55 * v2);
	}
	return ((uint32_t)r << 16) | ((uint32_t)g << 8) | (uint32_t)b;
}

void draw_flame_prepare(struct draw_flame *f)
{
	double t0, t1;

	draw_flame_layout(f);
	f->diff_max = 0;
	if (!f->diff)
		return;
	t0 = (double)f->nodes[0].count[0];
	t1 = (double)f->nodes[0].count[1];
	for (size_t i = 1; i < f->n; i++) {
		double d = fabs((t0 ? f->nodes[i].count[0] / t0 : 0) -
				(t1 ? f->nodes[i].count[1] / t1 : 0));

		if (d > f->diff_max)
			f->diff_max = d;
	}
}

/* The label of a frame: its name without the kernel mark, "[k]" after. */
void draw_frame_label(const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);

	if (draw_frame_is_kernel(name))
		snprintf(buf, len, "%.*s [k]", (int)(n - 4), name);
	else
		snprintf(buf, len, "%s", name);
}

size_t draw_frame_tooltip(const struct draw_flame *f, const struct draw_node *n, char *buf,
			  size_t len)
{
	double t0 = (double)f->nodes[0].count[0], t1 = (double)f->nodes[0].count[1];
	double p0 = t0 ? 100.0 * n->count[0] / t0 : 0, p1 = t1 ? 100.0 * n->count[1] / t1 : 0;
	char label[DRAW_MAX_NAME + 8];
	int w;

	draw_frame_label(n->name, label, sizeof(label));
	if (f->diff)
		w = snprintf(buf, len, "%s (%llu samples, %.2f%%; before %llu, %.2f%%: %+.2f points)",
			     label, (unsigned long long)n->count[0], p0,
			     (unsigned long long)n->count[1], p1, p0 - p1);
	else
		w = snprintf(buf, len, "%s (%llu samples, %.2f%%)", label,
			     (unsigned long long)n->count[0], p0);
	return w < 0 ? 0 : (size_t)w;
}

/* ------------------------------------------------------------------ SVG */

static const char script[] =
	"<script type=\"text/ecmascript\"><![CDATA[\n"
	"(function(){\n"
	"var s=document.currentScript,svg=s?s.closest('svg'):document.documentElement;\n"
	"var W=+svg.getAttribute('data-w'),P=" "10" ",A=W-2*P,gs=svg.querySelectorAll('g.f');\n"
	"function lab(g){var t=g.querySelector('title').textContent;return t.slice(0,t.lastIndexOf(' ('));}\n"
	"function fit(g,x,w){var r=g.querySelector('rect'),t=g.querySelector('text');\n"
	" r.setAttribute('x',(P+x*A).toFixed(2));r.setAttribute('width',Math.max(0,w*A).toFixed(2));\n"
	" var n=Math.floor((w*A-6)/7),l=lab(g);t.setAttribute('x',(P+x*A+3).toFixed(2));\n"
	" t.textContent=n<3?'':(l.length<=n?l:l.slice(0,n-2)+'..');}\n"
	"function zoom(z){var zx=+z.dataset.x,zw=+z.dataset.w,zd=+z.dataset.d;\n"
	" gs.forEach(function(g){var x=+g.dataset.x,w=+g.dataset.w,d=+g.dataset.d;\n"
	"  if(d<zd){var on=x<=zx+1e-12&&x+w>=zx+zw-1e-12;g.style.display=on?'':'none';if(on){fit(g,0,1);g.style.opacity=0.6;}return;}\n"
	"  g.style.opacity='';var on=x>=zx-1e-12&&x+w<=zx+zw+1e-12;g.style.display=on?'':'none';\n"
	"  if(on)fit(g,(x-zx)/zw,w/zw);});\n"
	" svg.querySelector('.reset').style.display='';}\n"
	"function reset(){gs.forEach(function(g){g.style.display='';g.style.opacity='';fit(g,+g.dataset.x,+g.dataset.w);});\n"
	" svg.querySelector('.reset').style.display='none';}\n"
	"function search(){var q=prompt('Search frames (regular expression)');var m=svg.querySelector('.matched');\n"
	" var re=null;try{re=q?new RegExp(q):null;}catch(e){m.textContent='bad expression';return;}\n"
	" var tot=0,cov=[];gs.forEach(function(g){var r=g.querySelector('rect');\n"
	"  if(!r.dataset.fill)r.dataset.fill=r.getAttribute('fill');\n"
	"  var hit=re&&re.test(lab(g));r.setAttribute('fill',hit?'#e040fb':r.dataset.fill);\n"
	"  if(hit){var x=+g.dataset.x,w=+g.dataset.w;if(!cov.some(function(c){return x>=c[0]-1e-12&&x+w<=c[1]+1e-12;})){cov.push([x,x+w]);tot+=w;}}});\n"
	" m.textContent=re?('matched '+(100*tot).toFixed(1)+'%'):'';}\n"
	"svg.addEventListener('click',function(e){var t=e.target;\n"
	" if(t.closest('.reset'))return reset();if(t.closest('.search'))return search();\n"
	" var g=t.closest('g.f');if(g)zoom(g);});\n"
	"})();\n"
	"]]></script>\n";

void draw_xml_escape(FILE *out, const char *s, bool keep_utf8)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			/* control bytes are not allowed in XML 1.0, and a name
			 * may be any bytes: keep the document valid UTF-8 */
			fputc((unsigned char)*s < 0x20 ||
					      ((unsigned char)*s > 0x7e && !keep_utf8) ? '?' : *s,
			      out);
			break;
		}
	}
}

int draw_flame_svg(struct draw_flame *f, const struct draw_flame_opts *o, char **ret,
		   size_t *ret_len)
{
	uint32_t width = o && o->width ? o->width : 1200, fh = o && o->frame_h ? o->frame_h : 16;
	double avail = width - 2.0 * DRAW_FLAME_XPAD, tot;
	const char *title = o && o->title ? o->title
				: f->diff ? "Differential flame graph"
					  : "Flame graph";
	uint32_t height, top = 56;
	char label[DRAW_MAX_NAME + 8], tip[DRAW_MAX_NAME + 160];
	size_t len = 0;
	char *buf = NULL;
	FILE *out;

	if (!f->n || !f->nodes[0].count[0])
		return -ENODATA;
	draw_flame_prepare(f);
	tot = (double)f->nodes[0].count[0];
	height = top + (f->max_depth + 1) * fh + 10;
	out = open_memstream(&buf, &len);
	if (!out)
		return -ENOMEM;
	if (!(o && o->no_xml_header))
		fputs("<?xml version=\"1.0\" standalone=\"no\"?>\n", out);
	fprintf(out,
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" "
		"height=\"%u\" viewBox=\"0 0 %u %u\" data-w=\"%u\" class=\"flamegraph\">\n",
		width, height, width, height, width);
	fputs("<style>.f text{font:12px Verdana,sans-serif;fill:#000;pointer-events:none}"
	      ".f:hover rect{stroke:#000;stroke-width:0.5}.f{cursor:pointer}"
	      ".hd{font:12px Verdana,sans-serif;fill:#000}"
	      ".search,.reset{cursor:pointer}</style>\n",
	      out);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" fill=\"#f8f8f0\"/>\n", width,
		height);
	fprintf(out, "<text class=\"hd\" x=\"%u\" y=\"20\" text-anchor=\"middle\" "
		     "style=\"font-size:16px\">",
		width / 2);
	draw_xml_escape(out, title, false);
	fputs("</text>\n", out);
	if (o && o->note) {
		fprintf(out, "<text class=\"hd\" x=\"%u\" y=\"38\" text-anchor=\"middle\">",
			width / 2);
		draw_xml_escape(out, o->note, false);
		fputs("</text>\n", out);
	}
	if (!(o && o->no_script)) {
		fprintf(out,
			"<text class=\"hd reset\" x=\"%d\" y=\"20\" style=\"display:none\">"
			"Reset zoom</text>\n<text class=\"hd search\" x=\"%u\" y=\"20\" "
			"text-anchor=\"end\">Search</text>\n<text class=\"hd matched\" x=\"%u\" "
			"y=\"38\" text-anchor=\"end\"></text>\n",
			DRAW_FLAME_XPAD, width - DRAW_FLAME_XPAD, width - DRAW_FLAME_XPAD);
	}
	for (uint32_t i = 0; i != UINT32_MAX; i = draw_flame_next(f, i)) {
		const struct draw_node *n = &f->nodes[i];
		double w = n->count[0] / tot * avail, x = DRAW_FLAME_XPAD + n->x * avail;
		uint32_t y = height - 10 - (n->depth + 1) * fh, rgb;
		int chars;

		if (w < 0.1)
			continue; /* too narrow to see: flamegraph.pl's bound too */
		rgb = draw_frame_colour(f, n);
		draw_frame_tooltip(f, n, tip, sizeof(tip));
		fprintf(out, "<g class=\"f\" data-x=\"%.9g\" data-w=\"%.9g\" data-d=\"%u\"><title>",
			n->x, n->count[0] / tot, n->depth);
		draw_xml_escape(out, tip, false);
		fprintf(out,
			"</title><rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%u\" "
			"fill=\"#%06x\" rx=\"2\" ry=\"2\"/><text x=\"%.2f\" y=\"%u\">",
			x, y, w, fh - 1, rgb, x + 3, y + fh - 5);
		chars = (int)((w - 6) / 7);
		if (chars >= 3) {
			draw_frame_label(n->name, label, sizeof(label));
			if ((int)strlen(label) > chars)
				strcpy(label + chars - 2, "..");
			draw_xml_escape(out, label, false);
		}
		fputs("</text></g>\n", out);
	}
	if (!(o && o->no_script))
		fputs(script, out);
	fputs("</svg>\n", out);
	if (fclose(out) || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}
