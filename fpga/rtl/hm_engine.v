// Packet engine: RPC header parser + dispatcher to per-function queues and
// the remote-memory engine, one packet at a time.
//
//   HDR (H beats) -> DEC (1) -> PAY (payload beats, drained on error)
//     -> COMMIT (RPC: descriptor, queue push)  |  CAS_RD -> CAS_WR
//     -> RESP (response header [+ data]; 1 silent cycle if SUPPRESS_OK)
//
// Every check happens in DEC in the order of the specification; a length
// mismatch is detected in PAY. A packet always ends (at its `last` beat),
// so a bad packet can never hang the engine. The Rust cycle model
// (fpga/src/model/engine.rs) follows these states cycle for cycle.
`default_nettype none

module hm_engine #(
    parameter integer DW = 64,
    parameter integer AW = 10
) (
    input  wire          clk,
    input  wire          rst,
    // Request stream.
    input  wire          in_valid,
    output wire          in_ready,
    input  wire [DW-1:0] in_data,
    input  wire          in_last,
    // Response stream.
    output wire          out_valid,
    input  wire          out_ready,
    output reg  [DW-1:0] out_data,
    output wire          out_last,
    // Configuration from the CSR block.
    input  wire          enable,
    input  wire [4:0]    slot_shift,
    output wire [15:0]   lk_conn,
    input  wire          conn_ok,
    input  wire          conn_rpc,
    input  wire          conn_mem,
    output wire [15:0]   lk_func,
    input  wire          func_ok,
    input  wire [7:0]    sel_queue,
    input  wire          q_full,
    input  wire [7:0]    q_tail,
    input  wire [AW-1:0] q_base,
    output wire [7:0]    lk_region,
    input  wire          reg_ok,
    input  wire          reg_r,
    input  wire          reg_w,
    input  wire          reg_a,
    input  wire [AW-1:0] reg_base,
    input  wire [AW:0]   reg_size,
    // Events to the CSR block.
    output wire          ev_commit,
    output reg  [15:0]   ev_func,
    output reg  [7:0]    ev_queue,
    output wire          ev_done,
    output wire [7:0]    ev_op,
    output wire [7:0]    ev_status,
    output wire          ev_suppressed,
    output reg           ev_swapped,
    output wire          idle,
    // Memory port.
    output reg           mem_we,
    output reg           mem_re,
    output reg  [AW-1:0] mem_addr,
    output reg  [DW-1:0] mem_wdata,
    input  wire [DW-1:0] mem_q
);
`include "generated/hm_defs.vh"

    localparam integer B = DW / 8;
    localparam integer LB = $clog2(B);
    localparam integer HB = (DW >= 128) ? 1 : 128 / DW;
    localparam integer HBW = (HB > 1) ? $clog2(HB) : 1;
    localparam integer LANES = B / 8;
    localparam integer LW = (LANES > 1) ? $clog2(LANES) : 1;
    localparam [32:0] CAS_BEATS = (DW >= 128) ? 33'd1 : 33'd2;
    localparam [33:0] MEM_WORDS = 34'd1 << AW;
    localparam integer BM1 = B - 1;
    localparam integer HBM1 = HB - 1;
    localparam [23:0] WORD_MASK = BM1[23:0];
    localparam [31:0] HBM1_32 = HBM1;
    localparam [32:0] HB33 = (DW >= 128) ? 33'd1 : 33'd2; // HB for the widths supported (>= 64)
    localparam [32:0] HB_LAST33 = {1'b0, HBM1_32};
    localparam [HBW-1:0] HB_LAST = HBM1[HBW-1:0];

    localparam [2:0] S_HDR = 3'd0, S_DEC = 3'd1, S_PAY = 3'd2, S_COMMIT = 3'd3,
                     S_CASRD = 3'd4, S_CASWR = 3'd5, S_RESP = 3'd6;

    reg [2:0]     state;
    reg [127:0]   hdr;
    reg [HBW-1:0] hcnt;
    reg           trunc;
    reg           got_last;
    reg [7:0]     status;
    reg [32:0]    expected;
    reg [32:0]    pcnt;
    reg [AW-1:0]  waddr;     // next payload write / READ data address
    reg [AW-1:0]  slot_addr; // RPC descriptor word, CAS word
    reg [LW-1:0]  lane;
    reg [7:0]     slot;
    reg [127:0]   operands;
    reg [63:0]    old;
    reg [32:0]    rcnt;

    // ---- header fields ----
    wire [7:0]  h_op     = hdr[HM_HDR_OP_LSB +: 8];
    wire [7:0]  h_flags  = hdr[HM_HDR_FLAGS_LSB +: 8];
    wire [15:0] h_conn   = hdr[HM_HDR_CONN_LSB +: 16];
    wire [31:0] h_req    = hdr[HM_HDR_REQ_LSB +: 32];
    wire [15:0] h_func   = hdr[HM_HDR_FUNC_LSB +: 16];
    wire [7:0]  h_region = hdr[HM_HDR_REGION_LSB +: 8];
    wire [23:0] h_offset = hdr[HM_HDR_OFFSET_LSB +: 24];
    wire [31:0] h_len    = hdr[HM_HDR_LEN_LSB +: 32];

    wire is_rpc   = h_op == HM_OP_RPC;
    wire is_read  = h_op == HM_OP_READ;
    wire is_write = h_op == HM_OP_WRITE;
    wire is_cas   = h_op == HM_OP_CAS;
    wire op_known = is_rpc || is_read || is_write || is_cas;

    assign lk_conn = h_conn;
    assign lk_func = h_func;
    assign lk_region = h_region;

    // ---- DEC: every check, first failure wins ----
    wire [32:0] len_beats = ({1'b0, h_len} + B - 1) >> LB;
    wire [32:0] slot_cap = (33'd1 << slot_shift) - 33'd1;
    wire [23:0] off_w = h_offset >> LB;
    wire [32:0] len_w = is_cas ? 33'd1 : {1'b0, h_len >> LB};
    wire [33:0] end_w = {10'd0, off_w} + {1'b0, len_w};
    wire [33:0] end_abs = end_w + {{(34-AW){1'b0}}, reg_base};
    wire bus_aligned = h_offset[LB-1:0] == {LB{1'b0}} && h_len[LB-1:0] == {LB{1'b0}};
    wire cas_aligned = h_offset[2:0] == 3'd0;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] slot_off = {24'd0, q_tail} << slot_shift; // wraps modulo memory words
    /* verilator lint_on UNUSEDSIGNAL */
    wire [AW-1:0] rpc_slot_addr = q_base + slot_off[AW-1:0];

    reg [7:0]  dec_status;
    reg [32:0] dec_expected;
    always @* begin
        dec_expected = 33'd0;
        if (is_rpc) dec_expected = len_beats;
        else if (is_write) dec_expected = len_w;
        else if (is_cas) dec_expected = CAS_BEATS;

        if (trunc) dec_status = HM_ST_TRUNCATED;
        else if (!enable) dec_status = HM_ST_DISABLED;
        else if (!op_known || (h_flags & HM_FLAGS_RESERVED) != 8'd0) dec_status = HM_ST_BAD_HEADER;
        else if (!conn_ok) dec_status = HM_ST_UNKNOWN_CONNECTION;
        else if (is_rpc ? !conn_rpc : !conn_mem) dec_status = HM_ST_PERMISSION_DENIED;
        else if (is_rpc) begin
            if (!func_ok) dec_status = HM_ST_UNKNOWN_FUNCTION;
            else if (len_beats > slot_cap) dec_status = HM_ST_BAD_LENGTH;
            else if (q_full) dec_status = HM_ST_QUEUE_FULL;
            else dec_status = HM_ST_OK;
        end else begin
            if (!reg_ok) dec_status = HM_ST_UNKNOWN_REGION;
            else if (is_read ? !reg_r : is_write ? !reg_w : !reg_a) dec_status = HM_ST_PERMISSION_DENIED;
            else if (is_cas && h_len != HM_CAS_BYTES) dec_status = HM_ST_BAD_LENGTH;
            else if (is_cas ? !cas_aligned : !bus_aligned) dec_status = HM_ST_MISALIGNED;
            else if (end_w > {{(33-AW){1'b0}}, reg_size} || end_abs > MEM_WORDS)
                dec_status = HM_ST_OUT_OF_BOUNDS;
            else dec_status = HM_ST_OK;
        end
        if (dec_status == HM_ST_OK && got_last && dec_expected != 33'd0)
            dec_status = HM_ST_BAD_LENGTH;
    end

    // ---- PAY: status after this beat ----
    wire in_fire = in_valid && in_ready;
    wire [7:0] st_beat = (status == HM_ST_OK && pcnt >= expected) ? HM_ST_BAD_LENGTH : status;
    wire [7:0] st_end = (st_beat == HM_ST_OK && pcnt + 33'd1 < expected) ? HM_ST_BAD_LENGTH : st_beat;
    wire pay_store = status == HM_ST_OK && pcnt < expected;

    // ---- RESP ----
    wire ok = status == HM_ST_OK;
    wire suppress = ok && (h_flags & HM_FLAG_SUPPRESS_OK) != 8'd0 && (is_rpc || is_write);
    wire [31:0] data_bytes = !ok ? 32'd0 : is_read ? h_len : is_cas ? 32'd8 : 32'd0;
    reg [127:0] rhdr;
    always @* begin
        rhdr = 128'd0;
        rhdr[HM_HDR_ROP_LSB +: 8] = h_op | HM_RESPONSE_BIT;
        rhdr[HM_HDR_RSTATUS_LSB +: 8] = status;
        rhdr[HM_HDR_RCONN_LSB +: 16] = h_conn;
        rhdr[HM_HDR_RREQ_LSB +: 32] = h_req;
        if (is_rpc) begin
            rhdr[HM_HDR_RQUEUE_LSB +: 16] = ok ? {8'd0, ev_queue} : 16'd0;
            rhdr[HM_HDR_RSLOT_LSB +: 16] = ok ? {8'd0, slot} : 16'd0;
            rhdr[HM_HDR_RLEN_LSB +: 32] = h_len;
        end else if (op_known) begin
            rhdr[HM_HDR_REGION_LSB +: 8] = h_region;
            rhdr[HM_HDR_OFFSET_LSB +: 24] = h_offset;
            rhdr[HM_HDR_RLEN_LSB +: 32] = data_bytes;
        end
    end

    // Index of the last response beat: header, then READ data or the CAS value.
    wire [32:0] rlast = HB_LAST33 + ((ok && is_read) ? len_w : 33'd0) + ((ok && is_cas) ? 33'd1 : 33'd0);
    /* verilator lint_off UNUSEDSIGNAL */
    wire [23:0] off_in_word = h_offset & WORD_MASK; // bits [LW+2:3] select the CAS lane
    /* verilator lint_on UNUSEDSIGNAL */

    // Header and CAS operand capture for either path width.
    reg [127:0] hdr_next;
    reg [127:0] operands_next;
    generate
        if (DW >= 128) begin : g_wide_in
            always @* begin
                hdr_next = in_data[127:0];
                operands_next = in_data[127:0];
            end
        end else begin : g_narrow_in
            always @* begin
                hdr_next = hdr;
                hdr_next[hcnt*DW +: DW] = in_data;
                operands_next = operands;
                operands_next[pcnt[0]*64 +: 64] = in_data[63:0];
            end
        end
    endgenerate

    wire in_resp = state == S_RESP;
    assign out_valid = in_resp && !suppress;
    assign out_last = rcnt == rlast;
    wire out_fire = out_valid && out_ready;
    wire resp_end = in_resp && (suppress || (out_fire && out_last));
    wire hdr_phase = rcnt < HB33;

    generate
        if (DW >= 128) begin : g_wide_out
            always @* begin
                out_data = {DW{1'b0}};
                if (hdr_phase) out_data[127:0] = rhdr;
                else if (is_cas) out_data[63:0] = old;
                else out_data = mem_q;
            end
        end else begin : g_narrow_out
            always @* begin
                out_data = {DW{1'b0}};
                if (hdr_phase) out_data = rhdr[rcnt[HBW-1:0]*DW +: DW];
                else if (is_cas) out_data[63:0] = old;
                else out_data = mem_q;
            end
        end
    endgenerate

    assign in_ready = state == S_HDR || state == S_PAY;
    assign idle = state == S_HDR && hcnt == {HBW{1'b0}};
    assign ev_commit = state == S_COMMIT;
    assign ev_done = resp_end;
    assign ev_op = h_op;
    assign ev_status = status;
    assign ev_suppressed = suppress;

    // CAS: the addressed lane of the word read in CAS_RD.
    reg [63:0] cur_lane;
    reg [DW-1:0] merged;
    integer l;
    always @* begin
        cur_lane = 64'd0;
        merged = mem_q;
        for (l = 0; l < LANES; l = l + 1) begin
            if (lane == l[LW-1:0]) begin
                cur_lane = mem_q[l*64 +: 64];
                merged[l*64 +: 64] = operands[127:64];
            end
        end
    end

    // Memory port.
    wire read_issue = in_resp && is_read && ok && out_fire && rcnt + 33'd1 >= HB33 && rcnt < rlast;
    always @* begin
        mem_we = 1'b0;
        mem_re = 1'b0;
        mem_addr = waddr;
        mem_wdata = in_data;
        case (state)
            S_PAY: mem_we = in_fire && pay_store && (is_rpc || is_write);
            S_COMMIT: begin
                mem_we = 1'b1;
                mem_addr = slot_addr;
                mem_wdata = {DW{1'b0}};
                mem_wdata[63:0] = {h_len[15:0], h_conn, h_req};
            end
            S_CASRD: begin
                mem_re = 1'b1;
                mem_addr = slot_addr;
            end
            S_CASWR: begin
                mem_we = cur_lane == operands[63:0];
                mem_addr = slot_addr;
                mem_wdata = merged;
            end
            S_RESP: mem_re = read_issue;
            default: ;
        endcase
    end

    always @(posedge clk) begin
        if (rst) begin
            state <= S_HDR;
            hdr <= 128'd0;
            hcnt <= {HBW{1'b0}};
            trunc <= 1'b0;
            got_last <= 1'b0;
            status <= HM_ST_OK;
            expected <= 33'd0;
            pcnt <= 33'd0;
            waddr <= {AW{1'b0}};
            slot_addr <= {AW{1'b0}};
            lane <= {LW{1'b0}};
            slot <= 8'd0;
            operands <= 128'd0;
            old <= 64'd0;
            rcnt <= 33'd0;
            ev_func <= 16'd0;
            ev_queue <= 8'd0;
            ev_swapped <= 1'b0;
        end else begin
            case (state)
                S_HDR: if (in_fire) begin
                    hdr <= hdr_next;
                    hcnt <= hcnt + 1'b1;
                    if (in_last) begin
                        got_last <= 1'b1;
                        trunc <= hcnt != HB_LAST;
                        state <= S_DEC;
                    end else if (hcnt == HB_LAST) begin
                        state <= S_DEC;
                    end
                end
                S_DEC: begin
                    status <= dec_status;
                    expected <= dec_expected;
                    pcnt <= 33'd0;
                    ev_func <= h_func;
                    ev_queue <= sel_queue;
                    ev_swapped <= 1'b0;
                    slot <= q_tail;
                    lane <= off_in_word[LW+2:3];
                    if (is_rpc) begin
                        slot_addr <= rpc_slot_addr;
                        waddr <= rpc_slot_addr + 1'b1;
                    end else begin
                        slot_addr <= reg_base + off_w[AW-1:0];
                        waddr <= reg_base + off_w[AW-1:0];
                    end
                    rcnt <= 33'd0;
                    if (!got_last) state <= S_PAY;
                    else if (dec_status != HM_ST_OK) state <= S_RESP;
                    else if (is_rpc) state <= S_COMMIT;
                    else state <= S_RESP;
                end
                S_PAY: if (in_fire) begin
                    pcnt <= pcnt + 33'd1;
                    if (pay_store) begin
                        if (is_rpc || is_write) waddr <= waddr + 1'b1;
                        if (is_cas) operands <= operands_next;
                    end
                    status <= st_beat;
                    if (in_last) begin
                        status <= st_end;
                        if (st_end != HM_ST_OK) state <= S_RESP;
                        else if (is_rpc) state <= S_COMMIT;
                        else if (is_cas) state <= S_CASRD;
                        else state <= S_RESP;
                    end
                end
                S_COMMIT: state <= S_RESP;
                S_CASRD: state <= S_CASWR;
                S_CASWR: begin
                    old <= cur_lane;
                    ev_swapped <= cur_lane == operands[63:0];
                    state <= S_RESP;
                end
                S_RESP: begin
                    if (out_fire) rcnt <= rcnt + 33'd1;
                    if (read_issue) waddr <= waddr + 1'b1;
                    if (resp_end) begin
                        state <= S_HDR;
                        hdr <= 128'd0;
                        hcnt <= {HBW{1'b0}};
                        trunc <= 1'b0;
                        got_last <= 1'b0;
                    end
                end
                default: state <= S_HDR;
            endcase
        end
    end
endmodule

`default_nettype wire
